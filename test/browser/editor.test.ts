// The editor, tested in a real browser: Debian's Chromium driven by playwright-core against a real Node-RED process
// that has this package installed from its npm pack (test/support/red-process.ts). Data-driven from package.json's
// node-red section and the runtime's own list of node sets, so node types added later are checked without edits here.
//
// Skipped (loudly) when Chromium is missing; a failure when CI=true, since CI always installs it.
// Screenshots go to test-artifacts/browser/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page, WebSocket } from 'playwright-core';
import { startNodeRed, REPO_ROOT, PACKAGE_NAME, type RedProcess } from '../support/red-process';
import { start as startLocalCloud, type LocalCloud } from '../../emulators';
import { compileRule } from '../../lib/sql';
import { CHROMIUM, INSTALL_HINT, chromiumPresent, launchChromium } from './chromium';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'browser');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
const NODE_SETS = Object.keys(PKG['node-red'].nodes);
const EXAMPLES = fs.readdirSync(path.join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
const CATEGORY = 'Alibaba Cloud';

interface NodeSet {
  id: string;
  name: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}
interface Problem {
  phase: string;
  text: string;
}
/** What the browser page exposes; only the parts the tests touch. */
interface EditorWindow {
  RED: {
    _(key: string): string;
    nodes: {
      getType(type: string): { category?: string } | undefined;
      node(id: string): { id: string; type: string; _def: { category?: string } } | undefined;
      filterNodes(filter: { type?: string; z?: string }): Array<{ id: string; type: string; name?: string; x: number; y: number }>;
      eachWorkspace(cb: (ws: { id: string; label?: string }) => void): void;
      dirty(): boolean;
    };
    view: { importNodes(nodes: unknown[], options?: Record<string, unknown>): void; redraw(full?: boolean): void };
    editor: { editConfig(name: string, type: string, id: string): void };
    workspaces: { active(): string; show(id: string): void };
  };
  $: { active: number };
  monaco?: {
    editor: {
      getEditors(): Array<{ getContainerDomNode(): { closest(sel: string): unknown }; getModel(): { getValue(): string; setValue(v: string): void } | null }>;
      getModelMarkers(filter: { owner?: string }): Array<{ startLineNumber: number; startColumn: number; message: string }>;
    };
  };
}

describe('editor in a real browser (Chromium + playwright-core)', function () {
  this.timeout(120_000);
  let red: RedProcess | undefined;
  let cloud: LocalCloud | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let sets: NodeSet[] = [];
  let types: string[] = [];
  const problems: Problem[] = [];
  let phase = 'loading the editor';

  before(async function () {
    if (!chromiumPresent()) {
      const msg = `Chromium not found at ${CHROMIUM}: the editor tests cannot run. ${INSTALL_HINT}`;
      if (process.env.CI === 'true') throw new Error(`${msg} CI=true, so this is a failure.`);
      console.warn(`\n  !!!!!!!!!! SKIPPED: ${msg}\n`);
      this.skip();
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    [cloud, red] = await Promise.all([startLocalCloud(), startNodeRed({ install: 'pack' })]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on('dialog', (d) => void d.accept()); // "leave with undeployed changes?" when the editor is reloaded
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push({ phase, text: `console.error: ${m.text()} (${m.location().url}:${m.location().lineNumber})` });
    });
    page.on('pageerror', (e) => problems.push({ phase, text: `uncaught: ${e.stack ?? e.message}` }));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push({ phase, text: `HTTP ${r.status()} ${r.request().method()} ${r.url()}` });
    });
    page.on('requestfailed', (r) => problems.push({ phase, text: `request failed: ${r.url()} ${r.failure()?.errorText ?? ''}` }));

    const res = await red.request<NodeSet[]>('GET', 'nodes');
    sets = res.body.filter((s) => s.module === PACKAGE_NAME);
    types = sets.flatMap((s) => s.types);

    await loadEditor();
  });

  /**
   * (Re)loads the editor and waits until it has finished loading: palette built from every node definition, the
   * deployed flows imported (the loading bar is hidden only after that), and the comms WebSocket open (the editor sends
   * its first frame, a subscription, only once the socket is open), so that debug messages reach the sidebar.
   */
  async function loadEditor(): Promise<void> {
    phase = 'loading the editor';
    const commsOpen = new Promise<void>((resolve) => {
      const onSocket = (ws: WebSocket) => {
        if (!new URL(ws.url()).pathname.endsWith('/comms')) return;
        page.off('websocket', onSocket);
        ws.once('framesent', () => resolve());
      };
      page.on('websocket', onSocket);
    });
    await page.goto(red!.url);
    await page.waitForFunction(() => !!(globalThis as unknown as EditorWindow).RED?.nodes?.getType('inject'), undefined, { timeout: 60_000 });
    await page.waitForSelector('#red-ui-palette-container-common .red-ui-palette-node', { timeout: 60_000 });
    // The loading bar is created visible and hidden by the editor's last loading step, after the flows are imported.
    await page.waitForFunction(
      () => {
        const G = globalThis as unknown as { document: { querySelector(s: string): unknown }; getComputedStyle(e: unknown): { display: string } };
        const bar = G.document.querySelector('#red-ui-loading-progress');
        return !!bar && G.getComputedStyle(bar).display === 'none';
      },
      undefined,
      { timeout: 60_000 },
    );
    await commsOpen;
    phase = 'between tests';
  }

  // A failed test may leave a dialog open: start the next one from a freshly loaded editor.
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      await page.screenshot({ path: path.join(ARTIFACTS, `failed-${this.currentTest.title.replace(/[^\w-]+/g, '_').slice(0, 60)}.png`) }).catch(() => undefined);
      await loadEditor();
    }
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    await cloud?.stop();
  });

  /** Problems recorded since `mark`, as text for an assertion message. */
  const problemsSince = (mark: number) => problems.slice(mark).map((p) => `[${p.phase}] ${p.text}`);
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  /** Waits until jQuery has no request in flight (dialogs load help, catalogs and lists through it). */
  const ajaxIdle = () => page.waitForFunction(() => (globalThis as unknown as EditorWindow).$.active === 0);

  it('loads every node set of package.json without errors, in Node-RED and in the editor', async () => {
    const loaded = sets.map((s) => s.name).sort();
    assert.deepEqual(loaded, [...NODE_SETS].sort(), 'node sets the runtime loaded vs package.json node-red.nodes');
    for (const s of sets) {
      assert.equal(s.err, undefined, `node set ${s.name} failed to load: ${s.err}`);
      assert.equal(s.enabled, true, `node set ${s.name} is disabled`);
      assert.ok(s.types.length > 0, `node set ${s.name} registers no type`);
    }
    const missing = await page.evaluate((ts) => ts.filter((t) => !(globalThis as unknown as EditorWindow).RED.nodes.getType(t)), types);
    assert.deepEqual(missing, [], 'types the runtime has but the editor has no definition for (missing or broken .html)');
    const loadErrors = problems.filter((p) => p.text.includes(PACKAGE_NAME) || types.some((t) => p.text.includes(t)));
    assert.deepEqual(loadErrors, [], 'errors about our package while the editor loaded');
  });

  it(`shows the "${CATEGORY}" palette category with every non-config node type and its icon`, async () => {
    const categories = await page.evaluate((ts) => ts.map((t) => [t, (globalThis as unknown as EditorWindow).RED.nodes.getType(t)?.category ?? '']), types);
    const paletteTypes = categories.filter(([, c]) => c !== 'config').map(([t]) => t);
    for (const [t, c] of categories) assert.ok(c === 'config' || c === CATEGORY, `${t} is in category "${c}", not "${CATEGORY}"`);
    assert.ok(paletteTypes.length > 0, 'no palette node in our package');
    const header = page.locator(`#red-ui-palette-header-${CATEGORY.replace(/ /g, '_')}`);
    assert.equal((await header.innerText()).trim(), CATEGORY);
    await header.scrollIntoViewIfNeeded();
    for (const t of paletteTypes) {
      const node = page.locator(`#red-ui-palette-container-${CATEGORY.replace(/ /g, '_')} .red-ui-palette-node[data-palette-type="${t}"]`);
      assert.equal(await node.count(), 1, `${t} is not in the ${CATEGORY} palette category`);
      const icon = await node.locator('.red-ui-palette-icon-container').getAttribute('data-palette-icon');
      assert.ok(icon, `${t} has no palette icon`);
      if (icon.startsWith('font-awesome/')) continue;
      assert.ok(!/\/(arrow-in|node-red)\.svg$/.test(icon) || icon.includes(PACKAGE_NAME), `${t} shows a default icon (${icon}): set icon in its definition`);
      const res = await page.request.get(new URL(icon, red!.url).toString());
      assert.equal(res.status(), 200, `${t} icon ${icon} answered HTTP ${res.status()}`);
      assert.match(res.headers()['content-type'] ?? '', /^image\//, `${t} icon ${icon} is not an image`);
      assert.ok((await res.body()).length > 0, `${t} icon ${icon} is empty`);
      // The icon really rendered in the palette (the browser decoded it).
      const rendered = await page.evaluate(
        (url) =>
          new Promise<boolean>((resolve) => {
            const G = globalThis as unknown as { Image: new () => { onload: () => void; onerror: () => void; src: string; naturalWidth: number } };
            const img = new G.Image();
            img.onload = () => resolve(img.naturalWidth > 0);
            img.onerror = () => resolve(false);
            img.src = url;
          }),
        icon,
      );
      assert.ok(rendered, `${t} icon ${icon} does not decode as an image`);
    }
    await header.screenshot({ path: path.join(ARTIFACTS, 'palette-header.png') });
    await page.locator(`#red-ui-palette-container-${CATEGORY.replace(/ /g, '_')}`).screenshot({ path: path.join(ARTIFACTS, 'palette.png') });
    const iconProblems = problems.filter((p) => /HTTP 4\d\d .*\/icons\//.test(p.text));
    assert.deepEqual(iconProblems, [], 'icon requests that failed');
  });

  describe('each node type opens its edit dialog without console errors', () => {
    // One test per node set of package.json; the types come from the running Node-RED.
    for (const setName of NODE_SETS) {
      it(`${setName}`, async () => {
        const set = sets.find((s) => s.name === setName);
        assert.ok(set, `node set ${setName} is not loaded`);
        for (const type of set.types) {
          await openAndCloseDialog(type);
        }
      });
    }
  });

  /** Adds a node of `type` (from the palette by drag and drop, config nodes through an import), opens its edit dialog, checks it, cancels. */
  async function openAndCloseDialog(type: string): Promise<void> {
    const category = await page.evaluate((t) => (globalThis as unknown as EditorWindow).RED.nodes.getType(t)?.category, type);
    const mark = problems.length;
    phase = `edit dialog of ${type}`;
    if (category === 'config') {
      const id = `cfg-${type}`;
      await page.evaluate(
        ({ t, i }) => {
          const RED = (globalThis as unknown as EditorWindow).RED;
          if (!RED.nodes.node(i)) RED.view.importNodes([{ id: i, type: t }], { applyNodeDefaults: true, notify: false, generateIds: false });
          RED.editor.editConfig('', t, i);
        },
        { t: type, i: id },
      );
      await page.waitForSelector('#node-config-dialog-edit-form', { state: 'visible' });
      await ajaxIdle();
      await shot(`dialog-${type}`);
      assert.deepEqual(problemsSince(mark), [], `console errors or failed requests while the ${type} dialog opened`);
      await page.click('#node-config-dialog-cancel');
      await page.waitForSelector('#node-config-dialog-edit-form', { state: 'detached' });
    } else {
      const id = await addFromPalette(type);
      await page.dblclick(`g[id="${id}"] .red-ui-flow-node`);
      await page.waitForSelector('#dialog-form', { state: 'visible' });
      await ajaxIdle();
      await shot(`dialog-${type}`);
      assert.deepEqual(problemsSince(mark), [], `console errors or failed requests while the ${type} dialog opened`);
      await page.click('#node-dialog-cancel');
      await page.waitForSelector('#dialog-form', { state: 'detached' });
    }
    assert.deepEqual(problemsSince(mark), [], `console errors or failed requests in the ${type} dialog`);
    phase = 'between tests';
  }

  let dropX = 160;
  /** Drags the palette node of `type` onto the workspace and returns the id of the node it creates. */
  async function addFromPalette(type: string): Promise<string> {
    const before = await page.evaluate((t) => (globalThis as unknown as EditorWindow).RED.nodes.filterNodes({ type: t }).map((n) => n.id), type);
    const source = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
    await source.scrollIntoViewIfNeeded();
    await source.dragTo(page.locator('#red-ui-workspace-chart'), { targetPosition: { x: dropX, y: 120 + (dropX % 3) * 60 } });
    dropX += 170;
    if (dropX > 800) dropX = 160;
    const handle = await page.waitForFunction(
      ({ t, known }) => {
        const added = (globalThis as unknown as EditorWindow).RED.nodes.filterNodes({ type: t }).find((n) => !known.includes(n.id));
        return added ? added.id : false;
      },
      { t: type, known: before },
    );
    return (await handle.jsonValue()) as string;
  }

  it('SQL rule Test panel: output for a good rule, the error position for a bad one', async function () {
    if (!types.includes('aliyun-iot-sql-rule')) this.skip();
    const mark = problems.length;
    phase = 'SQL rule test panel';
    const id = await addFromPalette('aliyun-iot-sql-rule');
    await page.dblclick(`g[id="${id}"] .red-ui-flow-node`);
    await page.waitForSelector('#aliyun-sql-test-run', { state: 'visible' });
    const sqlEditor = () =>
      page.evaluate(() => {
        const ed = (globalThis as unknown as EditorWindow).monaco?.editor.getEditors().find((e) => e.getContainerDomNode().closest('#node-input-sql-editor'));
        return ed?.getModel()?.getValue();
      });
    const goodSql = 'SELECT deviceName() AS device, items.temperature.value AS temperature\nFROM "/sys/a1B2c3D4e5F/+/thing/event/property/post"\nWHERE items.temperature.value > 35';
    await page.evaluate((sql) => {
      const ed = (globalThis as unknown as EditorWindow).monaco?.editor.getEditors().find((e) => e.getContainerDomNode().closest('#node-input-sql-editor'));
      if (!ed) throw new Error('no Monaco editor in #node-input-sql-editor');
      ed.getModel()?.setValue(sql);
    }, goodSql);
    assert.equal(await sqlEditor(), goodSql);

    // "Load example" fills a topic that matches FROM and a property post; Run shows the rule's output.
    await page.click('#aliyun-sql-test-example');
    const topic = await page.inputValue('#aliyun-sql-test-topic');
    const payload = await page.inputValue('#aliyun-sql-test-payload');
    assert.equal(topic, '/sys/a1B2c3D4e5F/dev01/thing/event/property/post');
    await page.click('#aliyun-sql-test-run');
    await page.waitForSelector('#aliyun-sql-test-result .aliyun-sql-test-output');
    const shown = JSON.parse(await page.locator('#aliyun-sql-test-result pre').innerText()) as Record<string, unknown>;
    const expected = compileRule(goodSql).evaluate({ topic, payload });
    assert.equal(expected.outcome, 'output');
    assert.deepEqual(shown, expected.output, 'the panel shows what the engine computes');
    assert.equal(shown.device, 'dev01');
    await shot('sql-test-panel-output');

    // Break the rule by typing at its end, as a user would; the panel names the position and marks it in the editor.
    await page.click('#node-input-sql-editor .view-lines');
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' AND ');
    const badSql = (await sqlEditor()) ?? '';
    assert.ok(badSql.endsWith(' AND '), `typed text did not land in the SQL editor: ${JSON.stringify(badSql)}`);
    let position: { line: number; column: number; message: string } | undefined;
    try {
      compileRule(badSql);
    } catch (e) {
      position = e as { line: number; column: number; message: string };
    }
    assert.ok(position && typeof position.line === 'number', 'the engine refuses the broken rule with a position');
    await page.click('#aliyun-sql-test-run');
    const errorTitle = page.locator('#aliyun-sql-test-result .aliyun-sql-test-error');
    await errorTitle.waitFor();
    assert.equal((await errorTitle.innerText()).trim(), `SQL error at line ${position.line}, column ${position.column}`);
    assert.equal((await page.locator('#aliyun-sql-test-result pre').innerText()).trim(), position.message);
    const markers = await page.evaluate(() => (globalThis as unknown as EditorWindow).monaco?.editor.getModelMarkers({ owner: 'aliyun-iot-sql-rule' }) ?? []);
    assert.deepEqual(
      markers.map((m) => [m.startLineNumber, m.startColumn]),
      [[position.line, position.column]],
      'the SQL editor marks the error position',
    );
    await shot('sql-test-panel-error');
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#dialog-form', { state: 'detached' });
    assert.deepEqual(problemsSince(mark), [], 'console errors or failed requests in the SQL rule test panel');
    phase = 'between tests';
  });

  it('"Test credentials" shows the role assumed through the local STS', async function () {
    if (!types.includes('aliyun-credentials')) this.skip();
    const mark = problems.length;
    phase = 'credentials test';
    const id = 'cfg-test-credentials';
    await page.evaluate((i) => {
      const RED = (globalThis as unknown as EditorWindow).RED;
      RED.view.importNodes([{ id: i, type: 'aliyun-credentials' }], { applyNodeDefaults: true, notify: false, generateIds: false });
      RED.editor.editConfig('', 'aliyun-credentials', i);
    }, id);
    await page.waitForSelector('#node-config-input-mode', { state: 'visible' });
    const demo = cloud!.demo;
    assert.ok(demo.roleArn);
    await page.selectOption('#node-config-input-mode', 'ramRole');
    await page.fill('#node-config-input-accessKeyId', demo.accessKeyId);
    await page.fill('#node-config-input-accessKeySecret', demo.accessKeySecret);
    await page.fill('#node-config-input-roleArn', demo.roleArn);
    await page.fill('#node-config-input-roleSessionName', 'editor-test');
    await page.fill('#node-config-input-stsEndpoint', cloud!.urls.sts);
    const assumedBefore = cloud!.sts.requests('AssumeRole').length;
    await page.click('#aliyun-credentials-test');
    const result = page.locator('#aliyun-credentials-test-result');
    await page.waitForFunction(() => {
      const d = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document;
      const t = d.querySelector('#aliyun-credentials-test-result')?.textContent ?? '';
      return t !== '' && !/Testing/.test(t);
    });
    const text = await result.innerText();
    assert.match(text, new RegExp(`Assumed role: ${demo.roleArn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.match(text, /Credentials expire: \d{4}-\d\d-\d\dT/);
    assert.ok(!text.includes(demo.accessKeySecret), 'the AccessKey secret is not shown');
    assert.equal(cloud!.sts.requests('AssumeRole').length, assumedBefore + 1, 'the local STS received the AssumeRole call');
    await shot('credentials-test');
    await page.click('#node-config-dialog-cancel');
    await page.waitForSelector('#node-config-dialog-edit-form', { state: 'detached' });
    assert.deepEqual(problemsSince(mark), [], 'console errors or failed requests in the credentials test');
    phase = 'between tests';
  });

  it('imports an example from Import → Examples and deploys it', async function () {
    const wanted = EXAMPLES.find((e) => /^SQL rule/i.test(e));
    if (!wanted) this.skip();
    // Only the example is deployed: drop the undeployed nodes earlier tests added.
    await loadEditor();
    const mark = problems.length;
    phase = 'import example';
    await page.click('#red-ui-header-button-sidemenu');
    await page.click('#menu-item-import');
    await page.waitForSelector('#red-ui-clipboard-dialog-import-tabs', { state: 'visible' });
    await page.click('#red-ui-clipboard-dialog-import-tabs a:has-text("Examples")');
    const tab = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await tab.locator(`.red-ui-treeList-label:has-text("${PACKAGE_NAME}")`).click();
    // The menu lists exactly the package's examples/*.json.
    await tab.getByText(EXAMPLES[0], { exact: true }).waitFor();
    const listed = (await tab.locator('.red-ui-treeList-label').allInnerTexts()).map((s) => s.trim());
    for (const e of EXAMPLES) assert.ok(listed.includes(e), `example "${e}" is not listed under Import → Examples → ${PACKAGE_NAME}`);
    await tab.getByText(wanted, { exact: true }).click();
    await shot('import-examples');
    const importedText = await page.evaluate(() => (globalThis as unknown as EditorWindow).RED._('clipboard.nodesImported'));
    await page.click('#red-ui-clipboard-dialog-ok');
    await page.waitForSelector('#red-ui-clipboard-dialog-import-tabs', { state: 'hidden' });
    // The dialog closes before the example is fetched and imported; the editor's "Imported: …" notification is the last
    // step of an import, once every node is in.
    await page.locator('.red-ui-notification', { hasText: importedText }).waitFor();
    const example = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', `${wanted}.json`), 'utf8')) as Array<{ id: string; type: string; z?: string; name?: string; label?: string }>;
    const exampleTab = example.find((n) => n.type === 'tab');
    const tabLabel = exampleTab?.label;
    // Imported into the editor: a tab with every node of the example.
    const counts = await page.evaluate((label) => {
      const RED = (globalThis as unknown as EditorWindow).RED;
      let tabId = '';
      RED.nodes.eachWorkspace((ws) => {
        if (ws.label === label) tabId = ws.id;
      });
      if (!tabId) return [`no tab labelled ${label}`];
      RED.workspaces.show(tabId);
      return RED.nodes.filterNodes({ z: tabId }).map((n) => n.type);
    }, tabLabel);
    assert.deepEqual(counts.sort(), example.filter((n) => n.z === exampleTab?.id).map((n) => n.type).sort());

    const logMark = red!.logMark();
    await page.click('#red-ui-header-button-deploy');
    await page.waitForSelector('.red-ui-notification:has-text("Successfully deployed")');
    await red!.waitForLog(/Started flows/, { since: logMark });
    const deployed = await red!.getFlows();
    assert.ok(deployed.some((n) => n.type === 'tab' && n.label === tabLabel), `tab "${tabLabel}" deployed`);
    for (const n of example.filter((x) => x.type !== 'tab')) {
      assert.ok(deployed.some((d) => d.type === n.type && d.name === n.name), `${n.type} "${n.name ?? ''}" deployed`);
    }
    const runtimeErrors = red!
      .log()
      .slice(logMark)
      .split('\n')
      .filter((l) => /\[error\]|Waiting for missing types/.test(l));
    assert.deepEqual(runtimeErrors, [], 'the runtime logged errors on deploy');

    // The deployed example works: press the inject button of the hot device and see the rule output in the debug sidebar.
    const inject = await page.evaluate(() => {
      const RED = (globalThis as unknown as EditorWindow).RED;
      return RED.nodes.filterNodes({ type: 'inject', z: RED.workspaces.active() }).map((n) => ({ id: n.id, name: n.name ?? '' }));
    });
    const hot = inject.find((n) => /38\.5/.test(n.name)) ?? inject[0];
    await page.click('#red-ui-tab-debug-link-button');
    await page.click(`g[id="${hot.id}"] .red-ui-flow-node-button`);
    // The message arrives at the debug node wired to the rule's first (matched) output.
    const rule = example.find((n) => n.type === 'aliyun-iot-sql-rule') as { wires?: string[][] } | undefined;
    const matchedDebug = example.find((n) => n.id === rule?.wires?.[0]?.[0]);
    const msg = page.locator('.red-ui-debug-msg').first();
    await msg.waitFor();
    const shownMsg = await msg.innerText();
    assert.match(shownMsg, /dev01/);
    if (matchedDebug?.name) assert.ok(shownMsg.includes(`node: ${matchedDebug.name}`), `debug message from "${matchedDebug.name}": ${shownMsg}`);
    await shot('example-deployed');
    assert.deepEqual(problemsSince(mark), [], 'console errors or failed requests while importing and deploying the example');
    phase = 'between tests';
  });
});
