// The SQL rule dialog checks the SQL as it is typed with the engine the node runs (resources/aliyun-iot-sql-engine.js,
// shipped in the package and served by Node-RED, no server round trip): the error is marked at the engine's position,
// named under the editor, and Done is refused with the message; a valid rule is accepted. The Test panel says what
// to fill in when the topic is empty, without a request, an HTTP error or a console error. Real Node-RED with the
// package installed from its npm pack, real editor in Chromium. Skipped loudly without Chromium; a failure when CI=true.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { compileRule, SqlError } from '../../lib/sql';
import { startNodeRed, PACKAGE_NAME, type RedProcess } from '../support/red-process';
import { CHROMIUM, INSTALL_HINT, chromiumPresent, launchChromium } from './chromium';

interface EditorNode {
  id: string;
  type: string;
  sql?: string;
  valid?: boolean;
  validationErrors?: string[];
}
interface Marker {
  startLineNumber: number;
  startColumn: number;
  message: string;
}
interface EditorWindow {
  RED: {
    nodes: {
      getType(type: string): { defaults: Record<string, { validate?: (this: unknown, v: unknown, opt?: unknown) => unknown }> } | undefined;
      node(id: string): EditorNode | undefined;
    };
    view: { importNodes(nodes: unknown[], options?: Record<string, unknown>): void };
    editor: { edit(node: EditorNode): void };
    workspaces: { active(): string };
  };
  $: { active: number };
  monaco?: { editor: { getModelMarkers(filter: { owner?: string }): Marker[] } };
}

const GOOD_SQL = 'SELECT deviceName() AS device, items.temperature.value AS t\nFROM "/sys/a1B2c3D4e5F/+/thing/event/property/post"\nWHERE items.temperature.value > 35';
const BAD_SQL = 'SELECT FROM WHERE';
const TYPE = 'aliyun-iot-sql-rule';

/** What the node itself says about `sql` when it starts: line, column and message of the SqlError. */
function engineError(sql: string): { line: number; column: number; message: string } {
  try {
    compileRule(sql);
  } catch (err) {
    assert.ok(err instanceof SqlError, `a SqlError for ${sql}`);
    return { line: err.line, column: err.column, message: err.message };
  }
  throw new Error(`the engine accepts ${JSON.stringify(sql)}`);
}

describe('SQL rule dialog: the engine checks the SQL as it is typed (Chromium)', function () {
  this.timeout(120_000);
  let red: RedProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async function () {
    if (!chromiumPresent()) {
      const msg = `Chromium not found at ${CHROMIUM}: the SQL editor tests cannot run. ${INSTALL_HINT}`;
      if (process.env.CI === 'true') throw new Error(`${msg} CI=true, so this is a failure.`);
      console.warn(`\n  !!!!!!!!!! SKIPPED: ${msg}\n`);
      this.skip();
    }
    red = await startNodeRed({ install: 'pack' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on('dialog', (d) => void d.accept());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
      // Node-RED reports an exception in a node's oneditsave/oneditcancel as a warning.
      if (m.type() === 'warning' && /onedit/.test(m.text())) problems.push(`console.warn: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    const engineLoaded = page.waitForResponse((r) => r.url().endsWith(`/resources/${PACKAGE_NAME}/aliyun-iot-sql-engine.js`), { timeout: 60_000 });
    await page.goto(red.url);
    assert.equal((await engineLoaded).status(), 200, 'Node-RED serves the engine from the installed package');
    await page.waitForFunction(() => !!(globalThis as unknown as EditorWindow).RED?.nodes?.getType('aliyun-iot-sql-rule'), undefined, { timeout: 60_000 });
    await page.waitForSelector('#red-ui-palette-container-common .red-ui-palette-node', { timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
  });

  afterEach(async function () {
    // A failed test may leave its dialog open: close it so the next test starts from the canvas.
    if (this.currentTest?.state === 'failed' && (await page.locator('#node-dialog-cancel').count()) > 0) {
      await page.click('#node-dialog-cancel');
      await page.waitForSelector('#dialog-form', { state: 'detached' });
    }
    assert.deepEqual(problems.splice(0), [], 'console errors or failed requests in the editor');
  });

  async function open(id: string, sql: string): Promise<void> {
    await page.evaluate(
      ({ i, s, t }) => {
        const RED = (globalThis as unknown as EditorWindow).RED;
        RED.view.importNodes([{ id: i, type: t, x: 300, y: 200, z: RED.workspaces.active(), sql: s }], { applyNodeDefaults: true, notify: false, generateIds: false });
        RED.editor.edit(RED.nodes.node(i)!);
      },
      { i: id, s: sql, t: TYPE },
    );
    await page.waitForSelector('#node-input-sql-editor .view-lines', { state: 'visible' });
    await page.waitForFunction(() => (globalThis as unknown as EditorWindow).$.active === 0);
  }

  /** Replaces the SQL by typing it, as a user does. */
  async function typeSql(sql: string): Promise<void> {
    await page.click('#node-input-sql-editor .view-lines');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // Monaco auto-closes quotes and brackets and offers completions on Enter: insert the text as typed input instead.
    await page.keyboard.insertText(sql);
    const typed = await page.evaluate(() => {
      const w = globalThis as unknown as { monaco: { editor: { getEditors(): Array<{ getContainerDomNode(): { closest(s: string): unknown }; getValue(): string }> } } };
      return w.monaco.editor.getEditors().find((e) => e.getContainerDomNode().closest('#node-input-sql-editor'))?.getValue();
    });
    assert.equal(typed, sql, 'the typed SQL is in the editor');
  }

  const markers = () => page.evaluate(() => (globalThis as unknown as EditorWindow).monaco?.editor.getModelMarkers({ owner: 'aliyun-iot-sql-rule' }) ?? []);
  const checkText = () => page.locator('#aliyun-sql-check').innerText();

  it('marks `SELECT FROM WHERE` at the engine position as it is typed, refuses Done with the message, and accepts a valid rule', async () => {
    const id = 'sql-live-check';
    await open(id, GOOD_SQL);
    await page.waitForSelector('#aliyun-sql-check.aliyun-sql-check-ok');
    assert.deepEqual(await markers(), [], 'a valid rule has no marker');

    await typeSql(BAD_SQL);
    const expected = engineError(BAD_SQL);
    await page.waitForSelector('#aliyun-sql-check.aliyun-sql-check-error');
    assert.equal((await page.locator('#aliyun-sql-check .aliyun-sql-check-message').innerText()).trim(), expected.message);
    const marked = await markers();
    assert.deepEqual(
      marked.map((m) => [m.startLineNumber, m.startColumn, m.message]),
      [[expected.line, expected.column, expected.message]],
      'one marker, at the position and with the message of the engine',
    );
    // The field's validator gives the same reason (Node-RED 3.1+ shows it on the node).
    const reason = await page.evaluate(
      ({ t, s }) => (globalThis as unknown as EditorWindow).RED.nodes.getType(t)!.defaults.sql.validate!.call({ dataType: 'JSON', timezone: '', strict: false }, s, {}),
      { t: TYPE, s: BAD_SQL },
    );
    assert.equal(reason, expected.message);

    // Done is refused: the notification names the problem and the dialog stays open with the SQL unsaved.
    await page.click('#node-dialog-ok');
    const note = page.locator('.red-ui-notification', { hasText: expected.message });
    await note.waitFor();
    assert.match(await note.innerText(), /Fix the SQL before Done/);
    assert.equal(await page.locator('#dialog-form').count(), 1, 'the dialog is still open');
    assert.equal(await page.evaluate((i) => (globalThis as unknown as EditorWindow).RED.nodes.node(i)!.sql, id), GOOD_SQL, 'nothing saved');
    // Ctrl+Enter (the keyboard Done) is refused too.
    await page.keyboard.press('Control+Enter');
    await page.waitForFunction(() => (globalThis as unknown as EditorWindow).$.active === 0);
    assert.equal(await page.locator('#dialog-form').count(), 1, 'Ctrl+Enter does not close the dialog either');
    assert.equal(await page.evaluate((i) => (globalThis as unknown as EditorWindow).RED.nodes.node(i)!.sql, id), GOOD_SQL, 'nothing saved by Ctrl+Enter');

    // A Test run with this SQL reports the same error where the SQL is still in view, without asking the server.
    await page.click('#aliyun-sql-test-run');
    await page.waitForSelector('#aliyun-sql-test-result .aliyun-sql-test-error');
    assert.equal((await page.locator('#aliyun-sql-test-result pre').innerText()).trim(), expected.message);
    const body = await page.locator('.red-ui-tray-body').boundingBox();
    for (const sel of ['#node-input-sql-editor', '#aliyun-sql-test-result']) {
      const box = await page.locator(sel).boundingBox();
      assert.ok(body && box && box.y >= body.y && box.y + box.height <= body.y + body.height, `${sel} is in view together with the other: ${JSON.stringify({ body, box })}`);
    }

    // Fixing the rule clears the marker and the message; Done then saves it.
    await typeSql(GOOD_SQL);
    await page.waitForSelector('#aliyun-sql-check.aliyun-sql-check-ok');
    assert.match(await checkText(), /compiles/);
    assert.deepEqual(await markers(), []);
    await page.click('#node-dialog-ok');
    await page.waitForSelector('#dialog-form', { state: 'detached' });
    const saved = await page.evaluate((i) => {
      const n = (globalThis as unknown as EditorWindow).RED.nodes.node(i)!;
      return { sql: n.sql, valid: n.valid };
    }, id);
    assert.deepEqual(saved, { sql: GOOD_SQL, valid: true });
  });

  it('follows the dialog options: BINARY refuses a payload field at once', async () => {
    const id = 'sql-binary-check';
    await open(id, 'SELECT temperature FROM "/a1B2c3D4e5F/+/user/update"');
    await page.waitForSelector('#aliyun-sql-check.aliyun-sql-check-ok');
    await page.selectOption('#node-input-dataType', 'BINARY');
    await page.waitForSelector('#aliyun-sql-check.aliyun-sql-check-error');
    let expected: string | undefined;
    try {
      compileRule('SELECT temperature FROM "/a1B2c3D4e5F/+/user/update"', { dataType: 'BINARY' });
    } catch (err) {
      expected = (err as Error).message;
    }
    assert.equal((await page.locator('#aliyun-sql-check .aliyun-sql-check-message').innerText()).trim(), expected);
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#dialog-form', { state: 'detached' });
  });

  it('Test with an empty topic says what to fill in, with no request and no console error', async () => {
    const id = 'sql-empty-topic';
    await open(id, GOOD_SQL);
    await page.fill('#aliyun-sql-test-topic', '');
    let requests = 0;
    const count = (r: { url(): string }) => {
      if (r.url().includes('aliyun-iot-sql-rule/test')) requests++;
    };
    page.on('request', count);
    await page.click('#aliyun-sql-test-run');
    await page.waitForSelector('#aliyun-sql-test-result .aliyun-sql-test-error');
    page.off('request', count);
    assert.equal((await page.locator('#aliyun-sql-test-result .aliyun-sql-test-error').innerText()).trim(), 'Fill in Topic first');
    assert.match(await page.locator('#aliyun-sql-test-result pre').innerText(), /device topic .*Load example/);
    assert.equal(await page.$eval('#aliyun-sql-test-topic', (el) => (el as unknown as { classList: { contains(c: string): boolean } }).classList.contains('input-error')), true);
    assert.equal(requests, 0, 'nothing is sent to the server');

    // Filled in, the test runs on the server as before.
    await page.click('#aliyun-sql-test-example');
    await page.click('#aliyun-sql-test-run');
    await page.waitForSelector('#aliyun-sql-test-result .aliyun-sql-test-output');
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#dialog-form', { state: 'detached' });
  });
});
