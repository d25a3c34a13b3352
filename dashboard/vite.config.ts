import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a running Herald (default 127.0.0.1:8071, or
// HERALD_DEV_API), so the dev server and `herald serve` look the same to the app.
const apiTarget = process.env.HERALD_DEV_API ?? 'http://127.0.0.1:8071';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
