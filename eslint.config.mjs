import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
            { name: 'onnxruntime-node', message: 'Only src/main/engine/backend.ts imports onnxruntime-node.' },
          ],
        },
      ],
    },
  },
);
