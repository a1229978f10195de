// Gateway options as commander options: one table (GATEWAY_OPTIONS) drives flags,
// environment variables and help for every command that needs them.

import { GATEWAY_OPTIONS, type GatewayConfigInput } from '@sentinel/gateway/store';
import { type Command, Option } from 'commander';

type OptionKey = keyof typeof GATEWAY_OPTIONS;

export function addGatewayOptions(
  command: Command,
  keys: readonly OptionKey[] = Object.keys(GATEWAY_OPTIONS) as OptionKey[],
): Command {
  for (const key of keys) {
    const option = GATEWAY_OPTIONS[key];
    // the default is shown, not set: values the user did not give stay unset here,
    // so the environment still applies (resolveGatewayConfig fills defaults last)
    const fallback = option.schema.safeParse(undefined);
    const help =
      fallback.success && fallback.data !== undefined
        ? `${option.help} (default: ${fallback.data})`
        : option.help;
    command.addOption(new Option(option.flag, help).env(option.env));
  }
  return command;
}

/**
 * The values given as flags, keyed as GatewayConfig. The environment is left to
 * resolveGatewayConfig, so that an error names the variable the bad value came from.
 */
export function gatewayFlagValues(
  command: Command,
  keys: readonly OptionKey[] = Object.keys(GATEWAY_OPTIONS) as OptionKey[],
): GatewayConfigInput {
  const values: Record<string, unknown> = {};
  for (const key of keys) {
    const name = new Option(GATEWAY_OPTIONS[key].flag).attributeName();
    if (command.getOptionValueSource(name) === 'cli') values[key] = command.getOptionValue(name);
  }
  return values as GatewayConfigInput;
}

/** The values commander collected (flags, then environment), keyed as GatewayConfig. */
export function gatewayOptionValues(
  parsed: Record<string, unknown>,
  keys: readonly OptionKey[] = Object.keys(GATEWAY_OPTIONS) as OptionKey[],
): GatewayConfigInput {
  const values: Record<string, unknown> = {};
  for (const key of keys) {
    const value = parsed[new Option(GATEWAY_OPTIONS[key].flag).attributeName()];
    if (value !== undefined) values[key] = value;
  }
  return values as GatewayConfigInput;
}

export const STORE_OPTIONS = ['natsUrl', 'natsCreds', 'dataDir'] as const;
