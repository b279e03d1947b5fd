// Native tests of the JavaScript SDK: `npm test --prefix guest/js` (node's test runner).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Context, Finding, Gate, InputError, Stage, StageError, checkGate, runStage, toWitError } from '../baton-sdk.js';

const SYSTEM = { components: [{ name: 'api', rps: 120 }, { name: 'db' }] };

class Summary extends Stage {
  run(ctx) {
    const names = ctx.read('coding/architecture/system', '/components').map((c) => c.name);
    ctx.emit('summarised', { count: names.length });
    ctx.log(`${names.length} components`);
    return { components: names, stage: ctx.stage };
  }
}

test('a stage reads, emits and returns JSON', () => {
  const ctx = Context.forTest({ 'coding/architecture/system': SYSTEM }, { stage: 'summary' });
  assert.equal(runStage(new Summary(), ctx), '{"components":["api","db"],"stage":"summary"}');
  assert.deepEqual(ctx.host.events, [['summarised', { count: 2 }]]);
  assert.deepEqual(ctx.host.lines, [['info', '2 components']]);
});

test('a missing key or field names the key and the pointer', () => {
  const ctx = Context.forTest({ 'coding/architecture/system': { nodes: [] } });
  assert.throws(() => ctx.read('coding/architecture/system', '/components/0/name'), (e) => {
    assert.ok(e instanceof InputError);
    assert.equal(e.key, 'coding/architecture/system');
    assert.equal(e.pointer, '/components/0/name');
    assert.deepEqual(toWitError(e), {
      tag: 'invalid-input',
      val: { namespace: 'coding-pipeline', key: 'coding/architecture/system', pointer: '/components/0/name', message: 'nothing at this pointer' },
    });
    return true;
  });
  assert.throws(() => Context.forTest({}).read('coding/architecture/data'), /`coding\/architecture\/data`.*not found/);
});

test('pointers follow RFC 6901, other namespaces and listing', () => {
  const ctx = Context.forTest({ k: { 'a/b': { 'm~n': [10, 20] } }, 'other:x/1': 1, 'x/2': 2 });
  assert.equal(ctx.read('k', '/a~1b/m~0n/1'), 20);
  assert.throws(() => ctx.read('k', '/a~1b/m~0n/2'), InputError);
  assert.equal(ctx.read('x/1', '', 'other'), 1);
  assert.equal(ctx.readOptional('x/1'), undefined);
  assert.deepEqual(ctx.listKeys('x/'), ['x/2']);
});

test('an exception fails the stage with its stack; unserialisable output too', () => {
  class Broken extends Stage {
    run() {
      return { value: null.field };
    }
  }
  assert.throws(() => runStage(new Broken(), Context.forTest()), (e) => {
    assert.ok(e instanceof StageError);
    assert.match(e.message, /^TypeError: /);
    assert.match(e.message, /at Broken\.run/);
    assert.equal(toWitError(e).tag, 'failed');
    return true;
  });
  class Cyclic extends Stage {
    run() {
      const a = {};
      a.self = a;
      return a;
    }
  }
  assert.throws(() => runStage(new Cyclic(), Context.forTest()), /not JSON-serialisable/);
});

class EveryComponentNamed extends Gate {
  check(gate, document) {
    return document.components
      .map((c, i) => ('name' in c ? null : new Finding(`/components/${i}/name`, 'a name', 'nothing', `component ${i} has no name`)))
      .filter(Boolean);
  }
}

test('a gate returns findings, and one that throws fails', () => {
  const found = checkGate(new EveryComponentNamed(), 'named', { components: [{ name: 'a' }, {}] }, [], {});
  assert.deepEqual(found, [new Finding('/components/1/name', 'a name', 'nothing', 'component 1 has no name')]);
  assert.deepEqual(checkGate(new EveryComponentNamed(), 'named', { components: [] }, [], {}), []);
  const threw = checkGate(new EveryComponentNamed(), 'named', {}, [], {});
  assert.equal(threw.length, 1);
  assert.match(threw[0].message, /threw TypeError/);
});
