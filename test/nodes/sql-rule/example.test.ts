// The example flow imports as valid JSON, loads in a real runtime and does what its comment says.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import { collect, sqlRuleWithCatalog, statusCalls } from './support';

// Core nodes used by the example (CommonJS modules of node-red's own package).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const injectNode = require('@node-red/nodes/core/common/20-inject.js') as (RED: NodeAPI) => void;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const commentNode = require('@node-red/nodes/core/common/90-comment.js') as (RED: NodeAPI) => void;

helper.init(require.resolve('node-red'));

const file = path.resolve(__dirname, '../../../examples/SQL rule - filter hot devices.json');

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  info?: string;
  wires?: string[][];
}

describe('example flow: SQL rule - filter hot devices', function () {
  afterEach(async function () {
    await helper.unload();
  });

  it('is a Node-RED export with a comment that explains it', function () {
    const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[];
    assert.ok(Array.isArray(flow));
    const ids = new Set(flow.map((n) => n.id));
    assert.equal(ids.size, flow.length, 'ids are unique');
    for (const n of flow) for (const w of n.wires ?? []) for (const target of w) assert.ok(ids.has(target), `${n.id} wires to ${target}`);
    const comment = flow.find((n) => n.type === 'comment');
    assert.ok(comment && (comment.info ?? '').length > 50, 'a comment node says what the flow shows');
    assert.ok(flow.some((n) => n.type === 'aliyun-iot-sql-rule'));
  });

  it('loads in the runtime and routes the hot device to output 1, the cool one to output 2', async function () {
    const flow = (JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[]).map((n) => (n.type === 'debug' ? { ...n, type: 'helper' } : n));
    const debugIds = flow.filter((n) => n.type === 'helper').map((n) => n.id);
    const rule = flow.find((n) => n.type === 'aliyun-iot-sql-rule');
    const injects = flow.filter((n) => n.type === 'inject');
    assert.ok(rule && injects.length === 2 && debugIds.length === 2);
    const [hotOut, otherOut] = rule.wires!.map((w) => w[0]);

    await helper.load([injectNode, commentNode, sqlRuleWithCatalog] as never, flow as never);
    const ruleNode = helper.getNode(rule.id);
    assert.equal(statusCalls(ruleNode)[0]?.fill, 'green', 'the example SQL compiles');
    const hot = collect<{ payload: Record<string, unknown>; rule: { outcome: string } }>(helper.getNode(hotOut), 1);
    const other = collect<{ payload: unknown; rule: { outcome: string } }>(helper.getNode(otherOut), 1);
    for (const inject of injects) helper.getNode(inject.id).receive({});
    const [h] = await hot;
    const [o] = await other;
    assert.equal(h.payload.deviceName, 'dev01');
    assert.equal(h.payload.temperature, 38.5);
    assert.match(String(h.payload.time), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(o.rule.outcome, 'filtered');
  });
});
