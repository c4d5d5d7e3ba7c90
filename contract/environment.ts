// Environments: where a session's tools run (networking, packages), mirroring environments.d.ts.
import { z } from 'zod';
import { Metadata, MetadataPatch } from './common.ts';
import { fail, ok, type Result } from './result.ts';
import { LIMITS } from './size-limits.ts';
import { thisMachineRule } from '../sandbox/egress-policy.ts';
import type { Networking } from '../sandbox/hands.ts';

/**
 * One `allowed_hosts` rule. The machine the runtime runs on (`localhost`, `127.0.0.1`, `::1`, in any spelling) is
 * refused: its own services listen there, and a sandbox may never reach them whatever is listed.
 */
const AllowedHost = z
  .string()
  .min(1)
  .max(LIMITS.hostname)
  .superRefine((rule, ctx) => {
    const why = thisMachineRule(rule);
    if (why === undefined) return;
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(rule)} names the machine the runtime runs on (${why}), which a sandbox may never reach: its own services listen there. Run a server for the agent inside the sandbox, or bind it to another loopback address such as 127.0.0.2 and list that address`,
    });
  });

const Networking = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('unrestricted') }),
  z.strictObject({
    type: z.literal('limited'),
    allow_mcp_servers: z.boolean().nullable().optional(),
    allow_package_managers: z.boolean().nullable().optional(),
    allowed_hosts: z.array(AllowedHost).max(LIMITS.allowedHosts).nullable().optional(),
  }),
]);

const PackageList = z.array(z.string().min(1).max(LIMITS.packageSpec)).max(LIMITS.packages).nullable().optional();
const Packages = z.strictObject({
  type: z.literal('packages').optional(),
  apt: PackageList,
  cargo: PackageList,
  gem: PackageList,
  go: PackageList,
  npm: PackageList,
  pip: PackageList,
});

const ConfigParams = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('cloud'), networking: Networking.nullable().optional(), packages: Packages.nullable().optional() }),
  z.strictObject({ type: z.literal('self_hosted') }),
]);
type ConfigParams = z.infer<typeof ConfigParams>;

const Scope = z.enum(['organization', 'account']);

export const EnvironmentCreateParams = z.strictObject({
  name: z.string().min(1).max(LIMITS.name),
  config: ConfigParams.nullable().optional(),
  description: z.string().max(LIMITS.description).nullable().optional(),
  metadata: Metadata.optional(),
  scope: Scope.nullable().optional(),
});
export type EnvironmentCreateParams = z.infer<typeof EnvironmentCreateParams>;

export const EnvironmentUpdateParams = z.strictObject({
  name: z.string().min(1).max(LIMITS.name).nullable().optional(),
  config: ConfigParams.nullable().optional(),
  description: z.string().max(LIMITS.description).nullable().optional(),
  /** Unlike other resources' patches, an empty string deletes its key too (resources/shared/metadata.ts). */
  metadata: MetadataPatch.optional(),
  scope: Scope.nullable().optional(),
});
export type EnvironmentUpdateParams = z.infer<typeof EnvironmentUpdateParams>;

export type EnvironmentConfig =
  | {
      type: 'cloud';
      networking:
        | { type: 'unrestricted' }
        | { type: 'limited'; allow_mcp_servers: boolean; allow_package_managers: boolean; allowed_hosts: string[] };
      packages: { type: 'packages'; apt: string[]; cargo: string[]; gem: string[]; go: string[]; npm: string[]; pip: string[] };
    }
  | { type: 'self_hosted' };

export interface Environment {
  type: 'environment';
  id: string;
  name: string;
  description: string | null;
  config: EnvironmentConfig;
  metadata: Metadata;
  scope: 'organization' | 'account';
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

type NetworkingParams = z.infer<typeof Networking>;
type PackagesParams = z.infer<typeof Packages>;
type CloudConfig = Extract<EnvironmentConfig, { type: 'cloud' }>;

/** A config as created: what the params leave out takes its default (unrestricted networking, no packages). */
export function normalizeConfig(config: ConfigParams | null | undefined): EnvironmentConfig {
  if (config?.type === 'self_hosted') return { type: 'self_hosted' };
  return {
    type: 'cloud',
    networking: config?.networking ? normalizeNetworking(config.networking) : { type: 'unrestricted' },
    packages: normalizePackages(config?.packages),
  };
}

function normalizeNetworking(net: NetworkingParams): CloudConfig['networking'] {
  if (net.type === 'unrestricted') return { type: 'unrestricted' };
  return {
    type: 'limited',
    allow_mcp_servers: net.allow_mcp_servers ?? false,
    allow_package_managers: net.allow_package_managers ?? false,
    allowed_hosts: net.allowed_hosts ?? [],
  };
}

function normalizePackages(pk: PackagesParams | null | undefined): CloudConfig['packages'] {
  return {
    type: 'packages',
    apt: pk?.apt ?? [],
    cargo: pk?.cargo ?? [],
    gem: pk?.gem ?? [],
    go: pk?.go ?? [],
    npm: pk?.npm ?? [],
    pip: pk?.pip ?? [],
  };
}

/** What an update may change; the rest (metadata, timestamps) is the store's. */
export type EnvironmentFields = Pick<Environment, 'name' | 'description' | 'scope' | 'config'>;

/**
 * Applies an update as the SDK's EnvironmentUpdateParams and config params state it. An omitted field keeps its
 * stored value, and so does null where the field cannot be cleared (`name`, `scope`, `config`); `description`
 * null clears it, an empty string is stored as one.
 *
 * In `config` ("on update, omitted fields preserve the existing value"): `networking` and `packages` omitted or
 * null are kept. `networking` of the stored type merges field by field (each of `allowed_hosts`,
 * `allow_mcp_servers`, `allow_package_managers` omitted or null is kept, `allowed_hosts: []` empties the list); of
 * another type it replaces the stored one, with that type's defaults for what it leaves out. `packages` replaces
 * the stored lists as a whole (its params carry no preserve rule; a list left out is empty). Refuses a change of
 * `config.type`: a limited environment must never open up by accident, nor change kind.
 */
export function applyEnvironmentUpdate(current: EnvironmentFields, p: EnvironmentUpdateParams): Result<EnvironmentFields> {
  const next: EnvironmentFields = { ...current };
  if (p.name !== undefined && p.name !== null) next.name = p.name;
  // "Omit to preserve; null clears to null; an empty string is stored as an empty string."
  if (p.description !== undefined) next.description = p.description;
  if (p.scope !== undefined && p.scope !== null) next.scope = p.scope;
  if (p.config !== undefined && p.config !== null) {
    if (p.config.type !== current.config.type)
      return fail('invalid_request_error', `config.type: cannot change from '${current.config.type}' to '${p.config.type}'`, 'invalid_config_type_change');
    next.config = current.config.type === 'cloud' && p.config.type === 'cloud' ? updateCloudConfig(current.config, p.config) : normalizeConfig(p.config);
  }
  return ok(next);
}

function updateCloudConfig(current: CloudConfig, p: Extract<ConfigParams, { type: 'cloud' }>): CloudConfig {
  return {
    type: 'cloud',
    networking: p.networking ? updateNetworking(current.networking, p.networking) : current.networking,
    packages: p.packages ? normalizePackages(p.packages) : current.packages,
  };
}

function updateNetworking(current: CloudConfig['networking'], p: NetworkingParams): CloudConfig['networking'] {
  if (p.type !== 'limited' || current.type !== 'limited') return normalizeNetworking(p);
  return {
    type: 'limited',
    allow_mcp_servers: p.allow_mcp_servers ?? current.allow_mcp_servers,
    allow_package_managers: p.allow_package_managers ?? current.allow_package_managers,
    allowed_hosts: p.allowed_hosts ?? current.allowed_hosts,
  };
}

/** What a session's sandbox may reach, in the hands' terms: a cloud environment's networking, fixed at session create. */
export function sandboxNetworking(config: EnvironmentConfig): Networking {
  if (config.type === 'cloud' && config.networking.type === 'limited') return { ...config.networking };
  return { type: 'unrestricted' };
}
