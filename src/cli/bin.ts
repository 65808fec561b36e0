#!/usr/bin/env node
import { formatError } from './cli-context.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${formatError(err, true)}\n`);
    process.exit(1);
  },
);
