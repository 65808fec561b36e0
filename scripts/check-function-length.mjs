// Fails when a function in src/ (generated code aside) is longer than MAX_LINES: orchestrators
// are split into named steps that each fit on a screen (docs/architecture.md, Conventions).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const MAX_LINES = 80;
const files = execSync('git ls-files "src/*.ts"', { encoding: 'utf8' })
  .trim()
  .split('\n')
  .filter((f) => f.length > 0 && !f.startsWith('src/gen/'));
const long = [];
for (const file of files) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    const isFunction =
      ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessor(node);
    if (isFunction && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      const lines = last - first + 1;
      if (lines > MAX_LINES)
        long.push(`${file}:${first + 1} ${node.name?.getText() ?? '(anonymous)'}: ${lines} lines`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
if (long.length > 0) {
  console.error(`functions over ${MAX_LINES} lines:\n  ${long.join('\n  ')}`);
  process.exit(1);
}
console.log(`no function in src/ is over ${MAX_LINES} lines (${files.length} files)`);
