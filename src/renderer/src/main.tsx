import { createRoot } from 'react-dom/client';
import { connect } from './client/connect';
import { App } from './components/App';
import { errorText, loadInitialState, setClient } from './state/actions';
import { connectEvents } from './state/events';
import { setState, toast } from './state/store';
import './styles.css';

const client = connect();
setClient(client);
connectEvents(client);
if (client.mode === 'electron') setState({ connected: true });
loadInitialState().catch((error: unknown) =>
  toast(`Could not reach the editor: ${errorText(error)}`, 'error'),
);

createRoot(document.getElementById('root')!).render(<App />);
