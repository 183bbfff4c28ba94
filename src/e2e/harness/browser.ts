import { tmpdir } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); see .ci/run. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Where the page tests write their screenshots: docs/screenshots (committed,
 * shown in the README) with UPDATE_SCREENSHOTS=1, else a temporary folder, so
 * an ordinary run does not rewrite committed images with new codes and times.
 */
export const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS
  ? // Test-only code run from source by jest, never bundled, so __dirname is the source folder.
    // eslint-disable-next-line no-restricted-syntax
    resolve(__dirname, '../../../docs/screenshots')
  : resolve(tmpdir(), 'portal-oidc-screenshots');

/** Starts a headless Chromium with a fresh profile and no network extras. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a screenshot of the page as <SCREENSHOT_DIR>/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * Holds the sign-in provider's refresh call until released, so the
 * "signing you in" state can be seen (and photographed) before it passes.
 */
export async function holdSignIn(page: Page, provider = 'guest'): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>(r => {
    release = r;
  });
  await page.route(`**/api/auth/${provider}/refresh**`, async route => {
    await released;
    await route.continue();
  });
  return release;
}
