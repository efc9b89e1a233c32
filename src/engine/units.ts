// Host-free byte and rate formatting, shared by the VS Code layer (re-exported by
// src/vscode/format.ts), the traffic webview and the CLI's traffic lines.

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 B, 512 B, 1.2 KiB, 12.3 MiB, 123 GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '0 B';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let v = bytes;
  let unit = -1;
  do {
    v /= 1024;
    unit++;
  } while (v >= 1024 && unit < UNITS.length - 1);
  // Keep a decimal below 100 (1.2 MiB, 12.3 MiB); round above. Avoid "1024.0 KiB" at the edge.
  if (v < 100 && Number(v.toFixed(1)) < 1024) return `${v.toFixed(1)} ${UNITS[unit]}`;
  return `${Math.round(v)} ${UNITS[unit]}`;
}

/** Bytes per second: 0 B/s, 1.2 MiB/s. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}
