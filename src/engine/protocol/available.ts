// Which front doors this engine has, for hosts that describe them (the VS Code layer generates
// http:// lines only when an HTTP door exists and is switched on).
import type { ProtocolSwitch } from '../types';
import { DOORS } from './index';

/** Whether this engine has a front door for `name` (a switch alone does not open a door). */
export function hasDoor(name: ProtocolSwitch): boolean {
  return DOORS.some((d) => d.name === name);
}
