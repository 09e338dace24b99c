/** Opacity of the selected layer and its mask brush (size, hardness, erase), invert and clear. */
import { useEffect, useState } from 'react';
import type { LayerView } from '../../../../shared/contract/schemas';
import { clearMask, invertMask, updateLayer } from '../../state/actions';
import { setState, useAppState } from '../../state/store';
import { Icon } from '../common/Icon';
import { Slider } from '../common/Slider';
import { maskButtons } from '../../state/ui-logic';

export function MaskTools({ layer }: { layer: LayerView }) {
  const tool = useAppState((state) => state.tool);
  const brush = useAppState((state) => state.brush);
  const [opacity, setOpacity] = useState(layer.opacity);
  useEffect(() => setOpacity(layer.opacity), [layer.opacity, layer.id]);
  const editable = layer.kind !== 'source';
  const painting = tool === 'mask' && editable;
  const pressed = maskButtons(tool, brush.erase, editable);

  return (
    <div className="mask-tools">
      <Slider
        label="Opacity"
        value={Math.round(opacity * 100)}
        min={0}
        max={100}
        step={1}
        format={(value) => `${value} %`}
        testId="layer-opacity"
        onChange={(value) => setOpacity(value / 100)}
        onCommit={(value) => void updateLayer(layer.id, { opacity: value / 100 })}
      />
      {editable && (
        <>
          <div className="tool-row">
            <button
              className={`tool-button ${pressed.paint ? 'active' : ''}`}
              data-testid="tool-mask"
              aria-pressed={pressed.paint}
              title="Paint this layer's mask: where the edit applies (B)"
              onClick={() =>
                setState((state) =>
                  pressed.paint
                    ? { tool: 'move' }
                    : { tool: 'mask', brush: { ...state.brush, erase: false } },
                )
              }
            >
              <Icon name="brush" /> Paint mask
            </button>
            <button
              className={`tool-button ${pressed.erase ? 'active' : ''}`}
              data-testid="mask-erase"
              aria-pressed={pressed.erase}
              title="Erase from the mask (E)"
              onClick={() =>
                setState((state) =>
                  pressed.erase
                    ? { tool: 'move', brush: { ...state.brush, erase: false } }
                    : { tool: 'mask', brush: { ...state.brush, erase: true } },
                )
              }
            >
              Erase
            </button>
            <button
              className="tool-button"
              data-testid="mask-invert"
              disabled={!layer.hasMask}
              title="Invert the mask"
              onClick={() => void invertMask(layer.id)}
            >
              <Icon name="invert" /> Invert
            </button>
            <button
              className="tool-button"
              data-testid="mask-clear"
              disabled={!layer.hasMask}
              title="Remove the mask (the edit shows everywhere)"
              onClick={() => void clearMask(layer.id)}
            >
              Clear
            </button>
          </div>
          {painting && (
            <div className="brush-settings">
              <Slider
                label="Size"
                value={brush.size}
                min={2}
                max={400}
                step={1}
                format={(value) => `${value} px`}
                testId="brush-size"
                onChange={(size) => setState((state) => ({ brush: { ...state.brush, size } }))}
              />
              <Slider
                label="Hardness"
                value={Math.round(brush.hardness * 100)}
                min={0}
                max={100}
                step={1}
                format={(value) => `${value} %`}
                testId="brush-hardness"
                onChange={(value) =>
                  setState((state) => ({ brush: { ...state.brush, hardness: value / 100 } }))
                }
              />
              <p className="hint">
                Paint where this edit should apply; erase to hide it again. Space + drag pans.
              </p>
            </div>
          )}
        </>
      )}
    </div>
  );
}
