// Which entities take commands and what a typed value must be before it is sent
// (the gateway checks the same in model/commands.ts). Pure.

import { formatNumber } from './format.js';
import type { Entity } from './types.js';

/** Platforms `sentinel.cmd` accepts a command for; sensors, binary sensors and events take none. */
export const COMMANDABLE = new Set([
  'switch',
  'light',
  'fan',
  'button',
  'number',
  'select',
  'text',
  'lock',
  'cover',
  'climate',
]);

export const isCommandable = (entity: Pick<Entity, 'platform'>) => COMMANDABLE.has(entity.platform);

/** Why a typed number cannot be sent, or undefined when it can. */
export function numberProblem(
  entity: Pick<Entity, 'min' | 'max' | 'step'>,
  text: string,
): string | undefined {
  if (text.trim() === '') return 'Enter a number.';
  const value = Number(text);
  if (!Number.isFinite(value)) return 'That is not a number.';
  if (entity.min !== undefined && value < entity.min) return `At least ${formatNumber(entity.min)}.`;
  if (entity.max !== undefined && value > entity.max) return `At most ${formatNumber(entity.max)}.`;
  if (entity.step !== undefined && entity.step > 0) {
    const steps = (value - (entity.min ?? 0)) / entity.step;
    if (Math.abs(steps - Math.round(steps)) > 1e-6) return `In steps of ${formatNumber(entity.step)}.`;
  }
  return undefined;
}

/** "0 to 30, steps of 0.5" — what the number field takes, for its hint. */
export function numberRange(entity: Pick<Entity, 'min' | 'max' | 'step' | 'unit'>): string {
  const unit = entity.unit ? ` ${entity.unit}` : '';
  const parts: string[] = [];
  if (entity.min !== undefined && entity.max !== undefined)
    parts.push(`${formatNumber(entity.min)} to ${formatNumber(entity.max)}${unit}`);
  else if (entity.min !== undefined) parts.push(`at least ${formatNumber(entity.min)}${unit}`);
  else if (entity.max !== undefined) parts.push(`at most ${formatNumber(entity.max)}${unit}`);
  if (entity.step !== undefined) parts.push(`steps of ${formatNumber(entity.step)}`);
  return parts.join(', ');
}
