import type { Response } from 'express';

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Marks a string as already-safe HTML. */
export interface Html {
  readonly __html: string;
}

/** Tagged template that escapes every interpolated value unless it is `Html`. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return { __html: out };
}

function render(value: unknown): string {
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'object' && '__html' in (value as Html)) return (value as Html).__html;
  return escapeHtml(String(value));
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1b1f23;margin:0}
main{max-width:30rem;margin:3rem auto;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);padding:2rem}
h1{font-size:1.35rem;margin-top:0}
.code{font-family:ui-monospace,Menlo,monospace;font-size:1.6rem;letter-spacing:.15em;text-align:center;padding:.5rem;background:#eef1f5;border-radius:6px}
input[type=text]{font-family:ui-monospace,Menlo,monospace;font-size:1.4rem;letter-spacing:.1em;text-transform:uppercase;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #9aa4b2;border-radius:6px}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #1f5fbf;background:#1f5fbf;color:#fff;cursor:pointer;margin-right:.5rem}
button.secondary{background:#fff;color:#1f5fbf}
.warning{background:#fff4e5;border-left:4px solid #e08a00;padding:.75rem;margin:1rem 0}
.error{background:#fdecea;border-left:4px solid #c62828;padding:.75rem;margin:1rem 0}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.75rem;margin:1rem 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-word}
.muted{color:#5c6670;font-size:.9rem}
.host{font-size:1.05rem;margin-top:-.5rem}.host strong{font-family:ui-monospace,Menlo,monospace;background:#eef1f5;border-radius:4px;padding:.1rem .35rem}
.badge{font-size:.8rem;font-weight:600;color:#8a4b00;background:#fff4e5;border:1px solid #e08a00;border-radius:4px;padding:0 .3rem;margin:0 .35rem}
`;

/**
 * Sends `body` as a complete HTML page with `status`. Call `setPageHeaders`
 * first: the page's style and script carry the nonce it put in `res.locals`.
 */
export function sendPage(
  res: Response,
  options: { status: number; title: string; body: Html; script?: string },
): void {
  const { status, ...rest } = options;
  res.status(status).type('html').send(page({ ...rest, nonce: res.locals.cspNonce! }));
}

/** A complete page; styles and scripts carry the response's CSP nonce. */
export function page(options: { title: string; nonce: string; body: Html; script?: string }): string {
  const { title, nonce, body, script } = options;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style nonce="${nonce}">${{ __html: STYLE }}</style>
</head><body><main>${body}</main>
${script ? html`<script nonce="${nonce}">${{ __html: script }}</script>` : ''}
</body></html>`.__html;
}
