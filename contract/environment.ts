// Environments: where a session's tools run (networking, packages), mirroring environments.d.ts.
import { z } from 'zod';
import { Metadata, MetadataPatch } from './common.ts';
import { LIMITS } from './size-limits.ts';
import { thisMachineRule } from '../sandbox/egress-policy.ts';

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

export function normalizeConfig(config: ConfigParams | null | undefined): EnvironmentConfig {
  if (config?.type === 'self_hosted') return { type: 'self_hosted' };
  const net = config?.networking;
  const pk = config?.packages;
  return {
    type: 'cloud',
    networking:
      net?.type === 'limited'
        ? {
            type: 'limited',
            allow_mcp_servers: net.allow_mcp_servers ?? false,
            allow_package_managers: net.allow_package_managers ?? false,
            allowed_hosts: net.allowed_hosts ?? [],
          }
        : { type: 'unrestricted' },
    packages: {
      type: 'packages',
      apt: pk?.apt ?? [],
      cargo: pk?.cargo ?? [],
      gem: pk?.gem ?? [],
      go: pk?.go ?? [],
      npm: pk?.npm ?? [],
      pip: pk?.pip ?? [],
    },
  };
}
