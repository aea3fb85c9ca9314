// Launching Debian's Chromium through playwright-core, the way this machine kind needs it. Shared by the editor
// tests and scripts/screenshots.ts.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * No sandbox (we run as root), no GPU, and no background traffic to Google's hosts (refused by the closed network).
 * --headless comes from `headless: true`; a fresh empty profile (--user-data-dir) is what playwright's launch() makes
 * for every browser it starts (it refuses the flag and asks for launchPersistentContext instead).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const INSTALL_HINT = 'Install it with `apt-get install chromium` (Debian), or set CHROMIUM_PATH to a Chromium binary.';

export function chromiumPresent(): boolean {
  return fs.existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
