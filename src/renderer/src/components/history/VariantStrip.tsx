import type { MessageView } from '../../../../shared/contract/schemas';
import { pickVariant } from '../../state/actions';
import { setState } from '../../state/store';
import { LayerThumb } from '../layers/LayerThumb';

/** The variants of one instruction (each run of it); the picked one is what the layer shows. */
export function VariantStrip({ message }: { message: MessageView }) {
  if (!message.layerId || message.variants.length < 2) return null;
  const layerId = message.layerId;
  return (
    <div className="variant-strip" data-testid="variant-strip">
      {message.variants.map((variant, index) => {
        const picked = variant.id === message.pickedVariantId;
        const { settings } = variant;
        return (
          <button
            key={variant.id}
            className={`variant ${picked ? 'picked' : ''}`}
            data-testid="variant"
            data-picked={picked}
            aria-pressed={picked}
            title={`Variant ${index + 1}: text ${settings.textGuidance}, image ${settings.imageGuidance}, seed ${settings.seed}, ${settings.steps} steps`}
            onClick={() => {
              if (!picked) void pickVariant(message.id, variant.id);
            }}
          >
            <LayerThumb layerId={layerId} variantId={variant.id} revision={variant.revision} size={52} />
            <span className="variant-index">{index + 1}</span>
          </button>
        );
      })}
      <button
        className="small-button compare-variants"
        data-testid="compare-variants"
        title="Compare the variants side by side, or flip between them"
        onClick={() =>
          setState({
            compareVariants: { messageId: message.id, variantIds: message.variants.map((v) => v.id) },
          })
        }
      >
        Compare
      </button>
    </div>
  );
}
