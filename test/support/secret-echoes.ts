// How the test upstreams of both sandbox providers' credential tests spell back a secret they received, so both
// scrubbers are held to the same forms: as is, upper-cased, reversed, in hex, inside base64 and base64url,
// percent-encoded and as a JSON string.
export function echoSpellings(secret: string): string[] {
  return [
    secret,
    secret.toUpperCase(),
    [...secret].reverse().join(''),
    Buffer.from(secret).toString('hex'),
    Buffer.from(`user:${secret}`).toString('base64'),
    Buffer.from(`u${secret}`).toString('base64url'),
    encodeURIComponent(secret),
    JSON.stringify(secret),
  ];
}
