import { Link } from 'react-router';
import { useSession } from '../session';

/** Where the page sits. A portal session never sees the application list. */
export function Breadcrumbs({ appId, appName, trail = [] }: { appId?: string; appName?: string; trail?: [string, string | null][] }) {
  const { session } = useSession();
  const crumbs: [string, string | null][] = [];
  if (session?.kind === 'operator') crumbs.push(['Applications', '/apps']);
  if (appId) crumbs.push([appName ?? appId, `/apps/${encodeURIComponent(appId)}`]);
  crumbs.push(...trail);
  if (crumbs.length === 0) return null;
  return (
    <nav aria-label="Breadcrumbs" className="breadcrumbs">
      <ol>
        {crumbs.map(([label, to], index) => (
          <li key={`${label}-${index}`}>
            {to && index < crumbs.length - 1 ? <Link to={to}>{label}</Link> : <span aria-current={index === crumbs.length - 1 ? 'page' : undefined}>{label}</span>}
          </li>
        ))}
      </ol>
    </nav>
  );
}
