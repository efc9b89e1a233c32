// Draws media/icon.png (128×128, the Marketplace icon) from the same geometry as the activity bar
// icon media/socks5.svg (24×24 units): a radio tower. No dependencies: signed distances,
// 4×4 supersampling, and a hand-written PNG encoder (zlib from Node).
//   node media/src/make-icon.mjs [out.png] [--preview]   (--preview: dark glyph on white, 96 px)
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

// Geometry in the SVG's 24×24 space (keep in sync with media/socks5.svg).
const SHAPES = [
  { kind: 'disc', c: [12, 9], r: 2 },
  { kind: 'arc', a: [8.5, 5.5], b: [8.5, 12.5], r: 5, bulge: -1 },
  { kind: 'arc', a: [15.5, 5.5], b: [15.5, 12.5], r: 5, bulge: 1 },
  { kind: 'arc', a: [5.6, 2.6], b: [5.6, 15.4], r: 9, bulge: -1 },
  { kind: 'arc', a: [18.4, 2.6], b: [18.4, 15.4], r: 9, bulge: 1 },
  { kind: 'seg', a: [12, 11], b: [12, 21] },
  { kind: 'seg', a: [8.5, 21], b: [15.5, 21] },
];

const hyp = (x, y) => Math.sqrt(x * x + y * y);

function segDist(p, a, b) {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
  return hyp(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

/** Distance to a circular arc through a and b (vertical chord) bulging left (-1) or right (+1). */
function arcDist(p, s) {
  const mid = [(s.a[0] + s.b[0]) / 2, (s.a[1] + s.b[1]) / 2];
  const half = hyp(s.b[0] - s.a[0], s.b[1] - s.a[1]) / 2;
  const c = [mid[0] - s.bulge * Math.sqrt(s.r * s.r - half * half), mid[1]];
  const d = hyp(p[0] - c[0], p[1] - c[1]);
  const nearest = d === 0 ? c : [c[0] + ((p[0] - c[0]) * s.r) / d, c[1] + ((p[1] - c[1]) * s.r) / d];
  const onArc = s.bulge < 0 ? nearest[0] <= mid[0] : nearest[0] >= mid[0];
  if (onArc) return Math.abs(d - s.r);
  return Math.min(hyp(p[0] - s.a[0], p[1] - s.a[1]), hyp(p[0] - s.b[0], p[1] - s.b[1]));
}

function glyph(p, halfStroke) {
  for (const s of SHAPES) {
    if (s.kind === 'disc' && hyp(p[0] - s.c[0], p[1] - s.c[1]) <= s.r + halfStroke) return true;
    if (s.kind === 'seg' && segDist(p, s.a, s.b) <= halfStroke) return true;
    if (s.kind === 'arc' && arcDist(p, s) <= halfStroke) return true;
  }
  return false;
}

function roundRect(x, y, x0, y0, x1, y1, r) {
  const cx = Math.max(x0 + r, Math.min(x1 - r, x));
  const cy = Math.max(y0 + r, Math.min(y1 - r, y));
  return hyp(x - cx, y - cy) <= r && x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

function render(size, preview) {
  const px = new Uint8Array(size * size * 4);
  const N = 4;
  const scale = preview ? size / 24 : (size / 128) * 4.3;
  const toUnits = (x, y) => [12 + (x - size / 2) / scale, 12 + (y - size / 2) / scale];
  const top = [0x2d, 0x6c, 0xdf];
  const bottom = [0x15, 0x3a, 0x7a];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let bg = 0;
      let fg = 0;
      for (let sy = 0; sy < N; sy++) {
        for (let sx = 0; sx < N; sx++) {
          const fx = x + (sx + 0.5) / N;
          const fy = y + (sy + 0.5) / N;
          const k = size / 128;
          if (preview || roundRect(fx, fy, 4 * k, 4 * k, 124 * k, 124 * k, 24 * k)) bg++;
          if (glyph(toUnits(fx, fy), preview ? 0.75 : 0.8)) fg++;
        }
      }
      const a = bg / (N * N);
      const f = fg / (N * N);
      const t = (x + y) / (2 * size);
      const base = preview ? [255, 255, 255] : top.map((v, i) => v + (bottom[i] - v) * t);
      const ink = preview ? [0x33, 0x33, 0x33] : [255, 255, 255];
      const i = (y * size + x) * 4;
      for (let ch = 0; ch < 3; ch++) px[i + ch] = Math.round(base[ch] * (1 - f) + ink[ch] * f);
      px[i + 3] = Math.round(255 * Math.max(a, preview ? 1 : 0));
    }
  }
  return png(size, size, px);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(w, h, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, y * w * 4, w * 4).copy(raw, y * (w * 4 + 1) + 1);
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

const args = process.argv.slice(2);
const preview = args.includes('--preview');
const out = args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../icon.png', import.meta.url));
writeFileSync(out, render(preview ? 96 : 128, preview));
console.log(`wrote ${out}`);
