/**
 * The CNI protocol in one place, as containernetworking's `skel` does it: read CNI_* from the
 * environment and the network config from stdin, negotiate the spec version, dispatch to the
 * plugin's command functions, and print the result or a CNI error JSON on stdout (exit 1).
 * Environment, stdin and stdout are parameters, so it runs in unit tests without a process.
 *
 * Logs never go to stdout: the runtime parses every byte of it.
 */

import { parseCniArgs } from './cni-args.js';
import { CniError, CniErrorCodes, renderCniError, toCniError } from './cni-error.js';
import type { CniResult } from './cni-result.js';
import { type CniCommand, CniCommands, CommandSince, compareVersions, type CniVersion, isSupportedVersion, LatestVersion, SupportedVersions } from './cni-versions.js';

export interface CniIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  readonly stdout: (text: string) => void;
}

/** What every command function is given: the environment's values and the decoded config. */
export interface CmdArgs {
  readonly command: CniCommand;
  readonly containerId: string;
  /** Empty when the runtime sent none (allowed for DEL, STATUS and GC). */
  readonly netns: string;
  readonly ifName: string;
  readonly args: ReadonlyMap<string, string>;
  readonly path: readonly string[];
  readonly cniVersion: CniVersion;
  /** The network config as decoded from stdin (a JSON object). */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface CniPlugin {
  /** Returns the result to print (already in `args.cniVersion`). */
  add(args: CmdArgs): Promise<CniResult>;
  del(args: CmdArgs): Promise<void>;
  check(args: CmdArgs): Promise<void>;
  status(args: CmdArgs): Promise<void>;
  gc(args: CmdArgs): Promise<void>;
}

/** Environment variables each command requires (CNI_ARGS is always optional). */
const RequiredEnv: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  VERSION: [],
  STATUS: [],
  GC: ['CNI_PATH'],
};

const CONTAINER_ID = /^[a-z0-9][a-z0-9_.-]*$/i;

/** Linux interface names: 1-15 bytes, no `/`, `:` or whitespace, not `.` or `..`. */
function validIfName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) <= 15 && !/[/:\s]/.test(name) && name !== '.' && name !== '..';
}

function decodeConfig(stdin: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch (error) {
    throw new CniError(CniErrorCodes.decodingFailure, 'network config on stdin is not valid JSON', error instanceof Error ? error.message : String(error));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CniError(CniErrorCodes.decodingFailure, 'network config on stdin must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function negotiateVersion(config: Record<string, unknown>, command: CniCommand): CniVersion {
  const version = config.cniVersion;
  if (version === undefined) throw new CniError(CniErrorCodes.invalidNetworkConfig, 'network config has no cniVersion', 'cniVersion: required');
  if (typeof version !== 'string' || !isSupportedVersion(version)) {
    throw new CniError(
      CniErrorCodes.incompatibleVersion,
      `incompatible CNI version ${JSON.stringify(version)}`,
      `plugin supports ${SupportedVersions.join(', ')}`,
    );
  }
  if (compareVersions(version, CommandSince[command]) < 0) {
    throw new CniError(CniErrorCodes.incompatibleVersion, `config version ${version} does not allow ${command}`, `${command} needs cniVersion ${CommandSince[command]} or later`);
  }
  return version;
}

function versionAnswer(stdin: string): string {
  let requested: unknown;
  try {
    requested = stdin.trim() === '' ? undefined : (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
  } catch {
    requested = undefined;
  }
  const cniVersion = typeof requested === 'string' && isSupportedVersion(requested) ? requested : LatestVersion;
  return `${JSON.stringify({ cniVersion, supportedVersions: SupportedVersions })}\n`;
}

/** Runs one CNI invocation; returns the exit status (0, or 1 after printing the error JSON). */
export async function runSkel(io: CniIo, plugin: CniPlugin): Promise<number> {
  let cniVersion: string = LatestVersion;
  try {
    const commandText = io.env.CNI_COMMAND ?? '';
    if (!(CniCommands as string[]).includes(commandText)) {
      throw new CniError(CniErrorCodes.invalidEnvironment, commandText ? `unknown CNI_COMMAND ${JSON.stringify(commandText)}` : 'CNI_COMMAND is not set', `expected one of ${CniCommands.join(', ')}`);
    }
    const command = commandText as CniCommand;
    if (command === 'VERSION') {
      io.stdout(versionAnswer(io.stdin));
      return 0;
    }
    const missing = RequiredEnv[command].filter((name) => !io.env[name]);
    if (missing.length > 0) throw new CniError(CniErrorCodes.invalidEnvironment, `${command} needs ${missing.join(', ')}`, missing.map((m) => `${m}: required`).join('\n'));

    const config = decodeConfig(io.stdin);
    if (typeof config.cniVersion === 'string' && isSupportedVersion(config.cniVersion)) cniVersion = config.cniVersion;
    const version = negotiateVersion(config, command);

    const containerId = io.env.CNI_CONTAINERID ?? '';
    const ifName = io.env.CNI_IFNAME ?? '';
    const badEnv: string[] = [];
    if (containerId && !CONTAINER_ID.test(containerId)) badEnv.push(`CNI_CONTAINERID ${JSON.stringify(containerId)}: must start with a letter or digit and hold only letters, digits, _ . -`);
    if (ifName && !validIfName(ifName)) badEnv.push(`CNI_IFNAME ${JSON.stringify(ifName)}: not a valid interface name`);
    const parsedArgs = parseCniArgs(io.env.CNI_ARGS ?? '');
    if (!parsedArgs.ok) badEnv.push(`CNI_ARGS: ${parsedArgs.reason}`);
    if (badEnv.length > 0 || !parsedArgs.ok) throw new CniError(CniErrorCodes.invalidEnvironment, 'invalid CNI environment', badEnv.join('\n'));

    const args: CmdArgs = {
      command,
      containerId,
      netns: io.env.CNI_NETNS ?? '',
      ifName,
      args: parsedArgs.value,
      path: (io.env.CNI_PATH ?? '').split(':').filter(Boolean),
      cniVersion: version,
      config,
    };
    switch (command) {
      case 'ADD':
        io.stdout(`${JSON.stringify(await plugin.add(args))}\n`);
        return 0;
      case 'DEL':
        await plugin.del(args);
        return 0;
      case 'CHECK':
        await plugin.check(args);
        return 0;
      case 'STATUS':
        await plugin.status(args);
        return 0;
      case 'GC':
        await plugin.gc(args);
        return 0;
    }
  } catch (error) {
    io.stdout(renderCniError(toCniError(error), cniVersion));
    return 1;
  }
}
