import { defineConfig } from 'vite';

// The dev server proxies the API (HTTP and WebSocket) so the app talks to one origin, as it
// does when the server itself serves the build at /examples/.
const api = process.env.WORKFLOWQL_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/examples/',
  server: {
    port: 5173,
    proxy: {
      '/graphql': {
        target: api,
        ws: true,
        changeOrigin: true,
        // The server accepts WebSockets from its own origin only; to it, the dev server's
        // page is cross-origin, so the proxied handshake names the server's origin.
        configure: (proxy) => {
          proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader('origin', new URL(api).origin));
        },
      },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 300 },
});
