/** The grid's settings: the two scale lists (with presets), steps, seed, the optional captions, the expected time. */
import { useState } from 'react';
import { LIMITS } from '../../../../shared/contract/limits';
import type { GridView, MessageView } from '../../../../shared/contract/schemas';
import { startGrid } from '../../state/grid-actions';
import {
  DEFAULT_IMAGE_SCALES,
  DEFAULT_TEXT_SCALES,
  expectedGridMs,
  formatDuration,
  formatScales,
  GRID_PRESETS,
  parseScales,
  stepMsFromVariant,
} from '../../state/grid-logic';
import { useAppState } from '../../state/store';

function ScaleField({
  label,
  explanation,
  value,
  error,
  testId,
  onChange,
}: {
  label: string;
  explanation: string;
  value: string;
  error: string | null;
  testId: string;
  onChange: (value: string) => void;
}) {
  return (
    <label className="grid-field">
      <span className="grid-field-label">{label}</span>
      <input
        type="text"
        value={value}
        spellCheck={false}
        data-testid={testId}
        aria-invalid={error !== null}
        onChange={(event) => onChange(event.target.value)}
      />
      <span className={error ? 'error-text' : 'muted'}>{error ?? explanation}</span>
    </label>
  );
}

function intOr(text: string, fallback: number, max: number): number | null {
  if (!text.trim()) return fallback;
  const value = Number(text);
  return Number.isInteger(value) && value >= 0 && value <= max ? value : null;
}

export function GridSetupForm({
  message,
  lastGrid,
  onCancel,
}: {
  message: MessageView;
  lastGrid: GridView | null;
  onCancel?: () => void;
}) {
  const measuredStepMs = useAppState((state) => state.stepMs);
  const picked = message.variants.find((variant) => variant.id === message.pickedVariantId);
  const stepMs = measuredStepMs ?? (picked ? stepMsFromVariant(picked) : null);
  const [textScales, setTextScales] = useState(formatScales(lastGrid?.textScales ?? DEFAULT_TEXT_SCALES));
  const [imageScales, setImageScales] = useState(formatScales(lastGrid?.imageScales ?? DEFAULT_IMAGE_SCALES));
  const [steps, setSteps] = useState(String(message.settings.steps));
  const [seed, setSeed] = useState(String(message.settings.seed));
  const [captionBefore, setCaptionBefore] = useState(lastGrid?.captionBefore ?? '');
  const [captionAfter, setCaptionAfter] = useState(lastGrid?.captionAfter ?? '');
  const [starting, setStarting] = useState(false);

  const text = parseScales(textScales);
  const image = parseScales(imageScales);
  const stepCount = intOr(steps, message.settings.steps, LIMITS.maxSteps);
  const seedValue = intOr(seed, message.settings.seed, LIMITS.maxSeed);
  const valid =
    'scales' in text && 'scales' in image && stepCount !== null && stepCount >= 1 && seedValue !== null;
  const cells = 'scales' in text && 'scales' in image ? text.scales.length * image.scales.length : 0;
  const expected = expectedGridMs(stepMs, cells, stepCount ?? 0);

  const start = async () => {
    if (!valid) return;
    setStarting(true);
    await startGrid({
      messageId: message.id,
      textScales: text.scales,
      imageScales: image.scales,
      steps: stepCount,
      seed: seedValue,
      captionBefore: captionBefore.trim() || null,
      captionAfter: captionAfter.trim() || null,
    });
    setStarting(false);
  };

  return (
    <form
      className="grid-setup"
      data-testid="grid-setup"
      onSubmit={(event) => {
        event.preventDefault();
        void start();
      }}
    >
      <div className="grid-presets">
        {GRID_PRESETS.map((preset) => (
          <button
            key={preset.id}
            type="button"
            className="small-button"
            data-testid={`grid-preset-${preset.id}`}
            onClick={() => {
              setTextScales(formatScales(preset.textScales));
              setImageScales(formatScales(preset.imageScales));
            }}
          >
            {preset.label}
          </button>
        ))}
      </div>
      <ScaleField
        label="Text guidance s_T (columns)"
        explanation="How strongly the instruction is followed."
        value={textScales}
        error={'error' in text ? text.error : null}
        testId="grid-text-scales"
        onChange={setTextScales}
      />
      <ScaleField
        label="Image guidance s_I (rows)"
        explanation="How closely the result keeps the input picture."
        value={imageScales}
        error={'error' in image ? image.error : null}
        testId="grid-image-scales"
        onChange={setImageScales}
      />
      <div className="grid-field-row">
        <label className="grid-field">
          <span className="grid-field-label">Steps</span>
          <input
            type="number"
            min={1}
            max={LIMITS.maxSteps}
            value={steps}
            data-testid="grid-steps"
            onChange={(event) => setSteps(event.target.value)}
          />
        </label>
        <label className="grid-field">
          <span className="grid-field-label">Seed (every cell)</span>
          <input
            type="number"
            min={0}
            value={seed}
            data-testid="grid-seed"
            onChange={(event) => setSeed(event.target.value)}
          />
        </label>
      </div>
      <fieldset className="grid-captions">
        <legend>Captions for the CLIP numbers (optional)</legend>
        <p className="muted">
          With both captions each cell gets the paper&apos;s directional similarity: how well the change in
          the picture matches the change from the first caption to the second. With only the second, CLIP-T:
          how well the result matches it.
        </p>
        <label className="grid-field">
          <span className="grid-field-label">Describe the picture before</span>
          <input
            type="text"
            value={captionBefore}
            placeholder="a photo of a white house"
            data-testid="grid-caption-before"
            onChange={(event) => setCaptionBefore(event.target.value)}
          />
        </label>
        <label className="grid-field">
          <span className="grid-field-label">Describe the picture after</span>
          <input
            type="text"
            value={captionAfter}
            placeholder="a photo of a red house"
            data-testid="grid-caption-after"
            onChange={(event) => setCaptionAfter(event.target.value)}
          />
        </label>
      </fieldset>
      <p className="muted" data-testid="grid-expected">
        {cells} cells × {stepCount ?? '?'} steps
        {expected !== null
          ? ` · expected: ${formatDuration(expected)} (at the last measured ${Math.round(stepMs ?? 0)} ms per step)`
          : ' · the expected time shows once an edit has run'}
      </p>
      <div className="grid-setup-actions">
        {onCancel && (
          <button type="button" className="button" onClick={onCancel}>
            Back to the grid
          </button>
        )}
        <button
          className="button primary"
          type="submit"
          data-testid="grid-start"
          disabled={!valid || starting}
        >
          {starting ? 'Starting…' : `Run ${cells} cells`}
        </button>
      </div>
    </form>
  );
}
