/* Layout: header; alerts and replay on the left, the map, the selection on the right. */
import { useState } from 'react';
import { AlertList } from './components/AlertList';
import { Header } from './components/Header';
import { IncidentPanel } from './components/IncidentPanel';
import { LoginForm } from './components/LoginForm';
import { ReplayControls } from './components/ReplayControls';
import { SettingsPanel } from './components/SettingsPanel';
import { VehicleDetail } from './components/VehicleDetail';
import { FleetMap } from './map/FleetMap';
import { useUi } from './state/store';

export function App() {
  const token = useUi((s) => s.token);
  const nothingSelected = useUi((s) => !s.selectedAlertId && !s.selectedVehicleId);
  const [settings, setSettings] = useState(false);
  if (!token) return <LoginForm />;
  return (
    <div className="app">
      <Header onSettings={() => setSettings((s) => !s)} />
      <aside className="left">
        <ReplayControls />
        <AlertList />
      </aside>
      <main className="center">
        <FleetMap />
        <Legend />
      </main>
      <aside className="right">
        {settings && <SettingsPanel onClose={() => setSettings(false)} />}
        <IncidentPanel />
        <VehicleDetail />
        {nothingSelected && !settings && (
          <p className="muted hint">Select an alert in the list, or a vehicle on the map, to see its evidence, history and actions.</p>
        )}
      </aside>
    </div>
  );
}

function Legend() {
  return (
    <div className="legend" aria-label="vehicle states">
      <span><i className="st-NORMAL" /> normal</span>
      <span><i className="st-DEGRADED" /> degraded</span>
      <span><i className="st-ALERTING" /> alerting</span>
      <span><i className="st-UNDER_INTERVENTION" /> intervention</span>
      <span><i className="ring" /> open alert</span>
    </div>
  );
}
