import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// sharp is loaded only through src/main/native/sharp.ts (RTLD_DEEPBIND, so that its GLib cannot clash
// with the system's inside Electron's binary); type imports are fine.
const sharpOnlyThroughLoader = {
  name: 'sharp',
  message: "Import sharp from 'src/main/native/sharp' (it isolates sharp's GLib).",
  allowTypeImports: true,
};

export default tseslint.config(
  { ignores: ['node_modules', 'out', 'dist', 'test-output', 'bench-output'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
    },
  },
  {
    files: ['src/main/**/*.ts'],
    ignores: ['src/main/native/sharp.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [sharpOnlyThroughLoader] }] },
  },
  {
    files: ['src/main/engine/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'The engine and shared code must run in plain Node.' }] },
      ],
    },
  },
  {
    files: ['src/main/engine/**/*.ts'],
    ignores: ['src/main/engine/backend.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The engine must run in plain Node.' },
            {
              name: 'onnxruntime-node',
              message: 'Only src/main/engine/backend.ts imports onnxruntime-node.',
            },
          ],
        },
      ],
    },
  },
);
