// Worker entry: the HTTP API (Hono) and, later in this file, the Brain entrypoint and the Durable Objects.
export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/healthz') return Response.json({ ok: true });
    return new Response('not found', { status: 404 });
  },
} satisfies ExportedHandler;
