// Screenshots for the README, made the way the browser tests run the editor: this package packed and installed into a
// fresh Node-RED (test/support/red-process.ts), Debian's Chromium through playwright-core.
//
//   npm run build && npx tsx scripts/screenshots.ts
//
// Writes docs/images/editor-flow.png (the full-path example running against the local cloud with simulated devices,
// as `npm start` shows it) and docs/images/sql-test-panel.png (the SQL rule's Test panel with an output).
import fs from 'node:fs';
import path from 'node:path';
import { startNodeRed, REPO_ROOT, type FlowNode, type FlowCredentials } from '../test/support/red-process';
import { CHROMIUM, INSTALL_HINT, chromiumPresent, launchChromium } from '../test/browser/chromium';
import { start, startSimulator } from '../emulators';
import { demoDevices } from '../emulators/cli';
import { buildDemoFlow, splitCredentials, FULL_PATH_EXAMPLE } from '../demo/flow';

const OUT = path.join(REPO_ROOT, 'docs', 'images');

interface EditorWindow {
  RED: {
    nodes: { filterNodes(filter: { type?: string; z?: string }): Array<{ id: string; name?: string }> };
    workspaces: { show(id: string): void };
    sidebar: { show(id: string): void };
  };
}

async function main(): Promise<void> {
  if (!chromiumPresent()) throw new Error(`Chromium not found at ${CHROMIUM}. ${INSTALL_HINT}`);
  fs.mkdirSync(OUT, { recursive: true });
  const cloud = await start({ sts: { httpsPort: null } });
  const simulator = cloud.iot ? await startSimulator({ url: cloud.iot.mqttUrl, devices: demoDevices(cloud.iot, 3), intervalMs: 500 }) : undefined;
  const { flows, credentials } = splitCredentials(buildDemoFlow(cloud));
  const example = { name: FULL_PATH_EXAMPLE, flow: flows as FlowNode[] };
  const tab = example.flow.find((n) => n.type === 'tab' && (n as { label?: string }).label !== undefined && /full path|device/i.test(String((n as { label?: string }).label)))
    ?? example.flow.find((n) => n.type === 'tab');
  if (!tab) throw new Error(`example ${example.name} has no tab`);
  console.log(`example: ${example.name}`);

  const red = await startNodeRed({ install: 'pack', flows: example.flow, credentials: credentials as FlowCredentials });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 640 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(30_000);
    await page.goto(red.url);
    await page.waitForFunction((id) => (globalThis as unknown as EditorWindow).RED?.nodes?.filterNodes({ z: id }).length > 0, tab.id, { timeout: 60_000 });
    await page.evaluate((id) => {
      const RED = (globalThis as unknown as EditorWindow).RED;
      RED.workspaces.show(id);
      RED.sidebar.show('debug');
    }, tab.id);

    // Palette: only our category open, so the picture shows the nodes this package adds.
    for (const header of await page.locator('.red-ui-palette-header').all()) {
      const id = (await header.getAttribute('id')) ?? '';
      if (!id.startsWith('red-ui-palette-header-')) continue;
      const open = await page.locator(`#${id.replace('-header-', '-')} .red-ui-palette-node`).first().isVisible();
      if (open !== (id === 'red-ui-palette-header-Alibaba_Cloud')) await header.click();
    }
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
    await simulator?.stop();
    await cloud.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
