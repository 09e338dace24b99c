/** A labelled range slider whose value beside it can also be typed (Enter or leaving the field applies it). */
import { useEffect, useRef, useState } from 'react';
import { parseSliderValue } from '../../state/ui-logic';

export interface SliderProps {
  label: string;
  value: number;
  min: number;
  max: number;
  step: number;
  onChange: (value: number) => void;
  /** Fires when the user lets go (for changes that go to the main side). */
  onCommit?: (value: number) => void;
  format?: (value: number) => string;
  testId?: string;
  title?: string;
}

export function Slider({
  label,
  value,
  min,
  max,
  step,
  onChange,
  onCommit,
  format,
  testId,
  title,
}: SliderProps) {
  const shown = format ? format(value) : String(value);
  const [typed, setTyped] = useState<string | null>(null);
  const discard = useRef(false);
  useEffect(() => setTyped(null), [value]);
  const apply = () => {
    if (typed === null || discard.current) {
      discard.current = false;
      setTyped(null);
      return;
    }
    const parsed = parseSliderValue(typed, min, max, step);
    setTyped(null);
    if (parsed === null || parsed === value) return;
    onChange(parsed);
    onCommit?.(parsed);
  };
  return (
    <label className="slider" title={title}>
      <span className="slider-label">{label}</span>
      <input
        type="range"
        min={min}
        max={max}
        step={step}
        value={value}
        data-testid={testId}
        onChange={(event) => onChange(Number(event.target.value))}
        onPointerUp={(event) => onCommit?.(Number((event.target as HTMLInputElement).value))}
        onKeyUp={(event) => onCommit?.(Number((event.target as HTMLInputElement).value))}
      />
      <input
        type="text"
        inputMode="decimal"
        className="slider-value"
        aria-label={`${label} value`}
        data-testid={testId ? `${testId}-value` : undefined}
        value={typed ?? shown}
        size={Math.max(3, shown.length)}
        onFocus={(event) => {
          setTyped(String(value));
          const input = event.target;
          requestAnimationFrame(() => input.select());
        }}
        onChange={(event) => setTyped(event.target.value)}
        onBlur={apply}
        onKeyDown={(event) => {
          if (event.key === 'Enter') {
            event.preventDefault();
            apply();
            (event.target as HTMLInputElement).blur();
          } else if (event.key === 'Escape') {
            event.stopPropagation();
            discard.current = true;
            (event.target as HTMLInputElement).blur();
          }
        }}
      />
    </label>
  );
}
