// The direction of dependencies in src/ (docs/architecture.md, "Folders"): each layer may import
// only layers below it. `npm run depcheck` (and so CI) fails on an import that goes up.
const LAYERS = [
  ['base', ['src/errors\\.ts', 'src/logger\\.ts', 'src/encoding/', 'src/gen/']],
  ['db', ['src/db/']],
  ['tree', ['src/iavl/', 'src/stream/', 'src/v2/home/v2-keys\\.ts']],
  ['multistore', ['src/multistore/']],
  ['stores', ['src/v1/', 'src/v2/commitment/', 'src/v2/storage/', 'src/snapshots/']],
  ['migration', ['src/migration/']],
  ['node', ['src/v2/home/open-', 'src/v2/root/']],
  ['services', ['src/workload/', 'src/rpc/']],
  ['demo', ['src/demo/']],
  ['entry', ['src/cli/', 'src/index\\.ts']],
];

const pattern = (paths) => `^(${paths.join('|')})`;

module.exports = {
  forbidden: [
    ...LAYERS.slice(0, -1).map(([name, paths], i) => ({
      name: `no-import-above-${name}`,
      comment: `${name} (${paths.join(', ')}) must not import the layers above it`,
      severity: 'error',
      from: { path: pattern(paths) },
      to: { path: pattern(LAYERS.slice(i + 1).flatMap(([, p]) => p)) },
    })),
    {
      name: 'no-circular',
      comment: 'modules must not import each other in a cycle',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'benchmarks-not-cli',
      comment: 'benchmarks use the library, not the CLI',
      severity: 'error',
      from: { path: '^benchmarks/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-tests',
      comment: 'the library never imports tests, benchmarks or scripts',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|benchmarks|scripts|interop)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
