#!/usr/bin/env node
// Builds a JavaScript stage or gate into a component with the pinned componentize-js
// (this folder's package.json; `npm ci --prefix guest/js` installs it), unless the
// component is newer than every source (a build takes about half a minute). The
// `build` command of a JavaScript stage in pipeline.toml:
//
//   build = "node guest/js/build.mjs --world stage --entry my-stage/component.js --wit wit/baton.wit --out stage.wasm"
//
// The component imports nothing from WASI (stdio, random, clocks and http disabled).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    world: { type: 'string' },
    entry: { type: 'string' },
    wit: { type: 'string' },
    out: { type: 'string' },
  },
});
for (const name of ['world', 'entry', 'wit', 'out']) {
  if (!values[name]) {
    console.error(`build.mjs: --${name} is required (--world stage|gate --entry FILE --wit FILE --out FILE)`);
    process.exit(2);
  }
}
const here = dirname(fileURLToPath(import.meta.url));

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return /\.(m?js|wit)$/.test(path) ? stat.mtimeMs : 0;
  return readdirSync(path)
    .filter((n) => n !== 'node_modules' && !n.startsWith('.'))
    .reduce((m, n) => Math.max(m, newest(join(path, n))), 0);
}

const out = resolve(values.out);
const sources = [dirname(resolve(values.entry)), here, resolve(values.wit)];
if (existsSync(out) && statSync(out).mtimeMs >= Math.max(...sources.map(newest))) process.exit(0);
const cli = join(here, 'node_modules/.bin/componentize-js');
if (!existsSync(cli)) {
  console.error(`componentize-js is not installed: npm ci --prefix ${here}`);
  process.exit(2);
}
mkdirSync(dirname(out), { recursive: true });
// componentize-js loads an entry's imports only from its own folder: bundle the
// entry with its imports (the SDK's included) into one module first, leaving the
// host's WIT interfaces as imports.
const work = mkdtempSync(join(tmpdir(), 'baton-js-'));
try {
  const bundle = join(work, 'component.js');
  // rolldown leaves the `baton:stage/…` imports it cannot resolve as imports (and
  // says so on stderr, shown only if it fails).
  try {
    execFileSync(join(here, 'node_modules/.bin/rolldown'), [values.entry, '--file', bundle,
      '--format', 'esm', '--platform', 'neutral'], { stdio: 'pipe' });
  } catch (e) {
    process.stderr.write(e.stderr ?? '');
    throw e;
  }
  execFileSync(cli, [bundle, '-w', resolve(values.wit), '-n', values.world,
    '-d', 'stdio', 'random', 'clocks', 'http', 'fetch-event', '-o', out], { stdio: 'inherit', cwd: work });
} finally {
  rmSync(work, { recursive: true, force: true });
}
