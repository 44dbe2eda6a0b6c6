// Builds src/ into the Python package's static folder, fixed names (the FastAPI shell links
// /static/app.js and /static/app.css with a version query), and writes source.sha256: the hash of
// the sources the bundle was built from, which tests/unit/test_ui_bundle.py recomputes.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { defineConfig } from "vite";

const here = import.meta.dirname;
const outDir = join(here, "..", "src", "breastgate", "web", "ui", "static");

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

export function sourceHash() {
  const hash = createHash("sha256");
  const inputs = [...files(join(here, "src")), join(here, "vite.config.js"), join(here, "package-lock.json")];
  for (const path of inputs.map((p) => relative(here, p).split("\\").join("/")).sort()) {
    hash.update(path + "\n");
    hash.update(readFileSync(join(here, path)));
    hash.update("\n");
  }
  return hash.digest("hex");
}

export default defineConfig({
  base: "/static/",
  publicDir: false,
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    rollupOptions: {
      input: join(here, "src", "main.js"),
      output: {
        entryFileNames: "app.js",
        chunkFileNames: "[name].js",
        assetFileNames: "app[extname]",
      },
    },
  },
  plugins: [
    {
      name: "breastgate-source-hash",
      writeBundle() {
        writeFileSync(join(outDir, "source.sha256"), sourceHash() + "\n");
      },
    },
  ],
});
