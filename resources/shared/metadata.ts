// A metadata patch, as every resource's update applies it: a key set to a string is upserted, a key set to null
// deleted, a key left out kept; the whole patch null empties the bag.
import { MAX_METADATA_PAIRS, type Metadata, type MetadataPatch } from '../../contract/common.ts';

export interface PatchRules {
  /** Environments: "Set a value to null or empty string to delete the key". Elsewhere an empty string is a value. */
  emptyDeletes?: boolean;
}

/** The patched bag, or a message naming the field when it would hold too many keys. */
export function applyMetadataPatch(current: Metadata, patch: MetadataPatch | null | undefined, rules: PatchRules = {}): Metadata | string {
  if (patch === undefined) return current;
  if (patch === null) return {};
  const next: Metadata = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || (rules.emptyDeletes && v === '')) delete next[k];
    else next[k] = v;
  }
  if (Object.keys(next).length > MAX_METADATA_PAIRS) return `metadata: at most ${MAX_METADATA_PAIRS} key-value pairs`;
  return next;
}
