// Copy the committed GraphQL schema (schema/schema.graphql at the repository root) next to this
// example, where tsconfig.json's gql.tada plugin reads it, then generate src/graphql-env.d.ts,
// the introspection types from which gql.tada infers the type of every document.
//
// When the repository has no committed SDL (a fresh schema change not yet exported with
// `python -m schema.export`), the SDL is taken from the Python code instead (WORKFLOWQL_PYTHON,
// else the repository's .venv, else python3).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = resolve(here, '..', '..');
const committed = resolve(repo, 'schema', 'schema.graphql');
const target = resolve(here, 'schema.graphql');

if (existsSync(committed)) {
  copyFileSync(committed, target);
  console.log('schema: copied schema/schema.graphql');
} else {
  const venvPython = resolve(repo, '.venv', 'bin', 'python');
  const python = process.env.WORKFLOWQL_PYTHON || (existsSync(venvPython) ? venvPython : 'python3');
  const code = [
    'import os, secrets, django',
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'backend.settings')",
    "os.environ.setdefault('SECRET_KEY', secrets.token_urlsafe(32))",
    'django.setup()',
    'from schema.export import current_sdl',
    "print(current_sdl(), end='')",
  ].join('\n');
  const sdl = execFileSync(python, ['-c', code], { cwd: repo, encoding: 'utf8' });
  writeFileSync(target, sdl);
  console.log(`schema: exported from the Python schema with ${python}`);
}

execFileSync(process.execPath, [resolve(here, 'node_modules', 'gql.tada', 'bin', 'cli.js'), 'generate-output'], {
  cwd: here,
  stdio: 'inherit',
});
