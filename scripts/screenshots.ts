// Screenshots for the README, made the way the browser tests run the editor: this package packed and installed into a
// fresh Node-RED (test/support/red-process.ts), Debian's Chromium through playwright-core.
//
//   npm run build && npx tsx scripts/screenshots.ts
//
// Writes docs/images/editor-flow.png (the full-path example when examples/ has one, else the SQL rule example,
// deployed and fed by its inject nodes) and docs/images/sql-test-panel.png (the SQL rule's Test panel with an output).
import fs from 'node:fs';
import path from 'node:path';
import { startNodeRed, REPO_ROOT, type FlowNode } from '../test/support/red-process';
import { CHROMIUM, INSTALL_HINT, chromiumPresent, launchChromium } from '../test/browser/chromium';

const OUT = path.join(REPO_ROOT, 'docs', 'images');

interface EditorWindow {
  RED: {
    nodes: { filterNodes(filter: { type?: string; z?: string }): Array<{ id: string; name?: string }> };
    workspaces: { show(id: string): void };
    sidebar: { show(id: string): void };
  };
}

function pickExample(): { name: string; flow: FlowNode[] } {
  const names = fs.readdirSync(path.join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.json'));
  const name = names.find((n) => /full[ -]path/i.test(n)) ?? names.find((n) => /^SQL rule/i.test(n));
  if (!name) throw new Error(`no full-path or SQL rule example in examples/ (found: ${names.join(', ')})`);
  return { name: name.replace(/\.json$/, ''), flow: JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', name), 'utf8')) as FlowNode[] };
}

async function main(): Promise<void> {
  if (!chromiumPresent()) throw new Error(`Chromium not found at ${CHROMIUM}. ${INSTALL_HINT}`);
  fs.mkdirSync(OUT, { recursive: true });
  const example = pickExample();
  const tab = example.flow.find((n) => n.type === 'tab');
  if (!tab) throw new Error(`example ${example.name} has no tab`);
  console.log(`example: ${example.name}`);

  const red = await startNodeRed({ install: 'pack', flows: example.flow });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(30_000);
    await page.goto(red.url);
    await page.waitForFunction((id) => (globalThis as unknown as EditorWindow).RED?.nodes?.filterNodes({ z: id }).length > 0, tab.id, { timeout: 60_000 });
    await page.evaluate((id) => {
      const RED = (globalThis as unknown as EditorWindow).RED;
      RED.workspaces.show(id);
      RED.sidebar.show('debug');
    }, tab.id);

    // Palette: only our category open, so the picture shows the nodes this package adds.
    await page.click('#red-ui-palette .red-ui-footer-button:has(i.fa-angle-double-up)');
    await page.click('#red-ui-palette-header-Alibaba_Cloud');
    await page.locator('#red-ui-palette-Alibaba_Cloud .red-ui-palette-node').first().waitFor();

    // Feed the flow once from every inject node so the statuses and the debug sidebar show it working.
    const injects = example.flow.filter((n) => n.type === 'inject' && n.z === tab.id);
    for (const n of injects) await page.click(`g[id="${n.id}"] .red-ui-flow-node-button`);
    if (injects.length > 0) await page.locator('.red-ui-debug-msg').first().waitFor();
    await page.mouse.click(700, 600); // deselect, so no node is highlighted
    await page.waitForFunction(() => {
      const d = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document;
      return d.querySelectorAll('.red-ui-notification').length === 0;
    });
    const flowFile = path.join(OUT, 'editor-flow.png');
    await page.screenshot({ path: flowFile });
    console.log(`wrote ${path.relative(REPO_ROOT, flowFile)}`);

    // The SQL rule's Test panel with the rule's output for an example device message.
    const rule = example.flow.find((n) => n.type === 'aliyun-iot-sql-rule' && n.z === tab.id);
    if (!rule) throw new Error(`example ${example.name} has no SQL rule node`);
    await page.setViewportSize({ width: 1280, height: 1500 }); // tall enough for the SQL, the options and the Test panel
    await page.dblclick(`g[id="${rule.id}"] .red-ui-flow-node`);
    await page.waitForSelector('#aliyun-sql-test-run', { state: 'visible' });
    // Widen the edit tray (as a user drags its edge) so the whole SQL is readable.
    const handle = await page.locator('.red-ui-tray-resize-handle').last().boundingBox();
    if (handle) {
      await page.mouse.move(handle.x + handle.width / 2, handle.y + 200);
      await page.mouse.down();
      await page.mouse.move(handle.x - 300, handle.y + 200, { steps: 10 });
      await page.mouse.up();
    }
    await page.click('#aliyun-sql-test-example');
    await page.click('#aliyun-sql-test-run');
    await page.waitForSelector('#aliyun-sql-test-result .aliyun-sql-test-output');
    await page.locator('#aliyun-sql-test-result').scrollIntoViewIfNeeded();
    const panelFile = path.join(OUT, 'sql-test-panel.png');
    const tray = await page.locator('.red-ui-tray').last().boundingBox();
    const result = await page.locator('#aliyun-sql-test-result').boundingBox();
    if (!tray || !result) throw new Error('the edit tray is not on screen');
    await page.screenshot({ path: panelFile, clip: { x: tray.x, y: tray.y, width: tray.width, height: result.y + result.height + 16 - tray.y } });
    console.log(`wrote ${path.relative(REPO_ROOT, panelFile)}`);
  } finally {
    await browser.close();
    await red.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
