/*
 * Vite build of the dashboard. `npm run build` writes dist/, which
 * fleetops-operator serves at OPERATOR_URL; `npm run dev` serves src/ with
 * the API and /ws proxied to FO_OPERATOR (default http://127.0.0.1:8080).
 */
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

const operator = process.env.FO_OPERATOR ?? 'http://127.0.0.1:8080';
const apiPaths = ['/alerts', '/vehicles', '/replay', '/health', '/metrics'];

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        // The maplibre worker ships as .mjs; emit it as .js so that any static
        // server sends a JavaScript MIME type (module workers insist on one).
        assetFileNames: (info) =>
          (info.names[0] ?? '').endsWith('.mjs') ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    port: 5173,
    proxy: {
      ...Object.fromEntries(apiPaths.map((p) => [p, { target: operator, changeOrigin: true }])),
      '/ws': { target: operator.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
  },
});
