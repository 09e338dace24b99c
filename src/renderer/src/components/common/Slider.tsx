/** A labelled range slider with its value shown (and editable) beside it. */
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
      <span className="slider-value">{format ? format(value) : value}</span>
    </label>
  );
}
