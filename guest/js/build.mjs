#!/usr/bin/env node
// Builds a JavaScript stage or gate into a component with the pinned componentize-js
// (this folder's package.json and lock), unless the component is newer than every
// source (a build takes about half a minute). The tools come from this folder's
// node_modules when `npm ci` was run here; otherwise they are fetched on first use,
// as cargo fetches crates: `npm ci` from this folder's lock into a cache folder named
// by the lock's hash, under $BATON_TOOL_CACHE (default $XDG_CACHE_HOME/baton/tools,
// else ~/.cache/baton/tools), shared by every project pinning the same lock. The
// `build` command of a JavaScript stage in pipeline.toml:
//
//   build = "node guest/js/build.mjs --world stage --entry my-stage/component.js --wit wit/baton.wit --out stage.wasm"
//
// The component imports nothing from WASI (stdio, random, clocks and http disabled).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
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

// The folder whose node_modules holds the pinned tools: this one, or the cache's. The
// cache folder is named by the pinned tree (devDependencies and the lock's packages),
// so a folder is never shared by two pins.
function tools() {
  if (existsSync(join(here, 'node_modules/.bin/componentize-js'))) return here;
  const deps = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).devDependencies ?? {};
  const lockPath = join(here, 'package-lock.json');
  const lock = existsSync(lockPath) ? JSON.parse(readFileSync(lockPath, 'utf8')) : null;
  const tree = lock ? Object.entries(lock.packages ?? {}).filter(([k]) => k !== '') : [];
  const key = createHash('sha256').update(JSON.stringify([deps, tree])).digest('hex').slice(0, 16);
  const base = process.env.BATON_TOOL_CACHE
    || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'baton', 'tools');
  const dir = join(base, `componentize-js-${key}`);
  // Marked complete only after npm succeeded: a half-made folder is made again.
  if (existsSync(join(dir, '.complete'))) return dir;
  console.error(`build.mjs: fetching the pinned componentize-js into ${dir} (first use)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const name = 'baton-tools';
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', private: true, devDependencies: deps }));
  if (lock) {
    lock.name = name;
    lock.version = '0.0.0';
    lock.packages[''] = { name, version: '0.0.0', devDependencies: deps };
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  }
  try {
    execFileSync('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    console.error(`build.mjs: cannot fetch componentize-js (${e.message.split('\n')[0]}); install it with npm ci --prefix ${here}`);
    process.exit(2);
  }
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}
const bin = join(tools(), 'node_modules/.bin');
const cli = join(bin, 'componentize-js');
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
    execFileSync(join(bin, 'rolldown'), [values.entry, '--file', bundle,
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
