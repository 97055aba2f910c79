import { defineConfig } from 'vite';

// The dev server proxies the API (HTTP and WebSocket) so the app talks to one origin, as it
// does when the server itself serves the build at /examples/.
const api = process.env.WORKFLOWQL_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/examples/',
  server: {
    port: 5173,
    proxy: {
      '/graphql': { target: api, ws: true, changeOrigin: true },
      '/admin': { target: api, changeOrigin: true },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 300 },
});
