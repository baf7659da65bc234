// Production build of the console: static files the manager serves at / (docs/console.md).
import { defineConfig } from "vite";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    // DF_CONSOLE_OUT: where the project's build (CMake) wants the files; default dist/.
    outDir: process.env.DF_CONSOLE_OUT || "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
});
