import type { EditSettings } from '../../../../shared/engine-types';

export function SettingsChips({ settings }: { settings: EditSettings }) {
  return (
    <div className="chips" data-testid="settings-chips">
      <span className="chip" title="Text guidance: higher = stronger edit">
        text {settings.textGuidance}
      </span>
      <span className="chip" title="Image guidance: higher = closer to the source">
        image {settings.imageGuidance}
      </span>
      <span className="chip" title="Seed">
        seed {settings.seed}
      </span>
      <span className="chip" title="Denoising steps">
        {settings.steps} steps
      </span>
      <span className="chip subtle" title="Scheduler">
        {settings.scheduler}
      </span>
    </div>
  );
}
