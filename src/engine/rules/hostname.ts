// Is a destination name a host name at all? Checked before any lookup: a name with a NUL or a
// control byte, an empty label, over 253 bytes or a label over 63 bytes can only be a mistake or an
// attack on whatever reads it next (the resolver, a log, an upstream), and gets "host unreachable".

/** C0 controls, DEL, C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export const MAX_HOST_NAME_BYTES = 253;
export const MAX_LABEL_BYTES = 63;

/**
 * Why `name` is not a valid host name, or undefined when it is. One trailing dot (the root, an
 * absolute name) is allowed and not counted. Sizes are in bytes (UTF-8), as on the wire.
 */
export function invalidHostName(name: string): string | undefined {
  if (CONTROL.test(name)) return 'a control character in the name';
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0) return 'an empty name';
  if (Buffer.byteLength(n) > MAX_HOST_NAME_BYTES) return `a name over ${MAX_HOST_NAME_BYTES} bytes`;
  for (const label of n.split('.')) {
    if (label.length === 0) return 'an empty label';
    if (Buffer.byteLength(label) > MAX_LABEL_BYTES) return `a label over ${MAX_LABEL_BYTES} bytes`;
  }
  return undefined;
}
