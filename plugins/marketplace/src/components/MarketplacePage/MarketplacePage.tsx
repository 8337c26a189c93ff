import { Route, Routes, useLocation } from 'react-router-dom';
import { Content, Header, HeaderTabs, Page } from '@backstage/core-components';
import { useRouteRef } from '@backstage/core-plugin-api';
import { useNavigate } from 'react-router-dom';
import { rootRouteRef } from '../../routes';
import { DiscoveryPage } from '../DiscoveryPage';
import { ListingPage } from '../ListingPage';
import { MyAgentsPage } from '../MyAgentsPage';
import { PublishingPage } from '../PublishingPage';

const TABS = [
  { id: '', label: 'Discover' },
  { id: 'mine', label: 'My agents' },
  { id: 'publishing', label: 'Publishing' },
];

/** The marketplace: discovery, listing pages, "My agents" and publishing. */
export function MarketplacePage() {
  const root = useRouteRef(rootRouteRef)();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const rest = pathname.slice(root.length).replace(/^\//, '');
  const selected = Math.max(
    0,
    TABS.findIndex(t => t.id && rest.startsWith(t.id)),
  );
  return (
    <Page themeId="tool">
      <Header
        title="Marketplace"
        subtitle="Discover, acquire and govern access to agents"
      />
      <HeaderTabs
        selectedIndex={selected}
        tabs={TABS.map(t => ({ id: t.id || 'discover', label: t.label }))}
        onChange={index =>
          navigate(TABS[index].id ? `${root}/${TABS[index].id}` : root)
        }
      />
      <Content>
        <Routes>
          <Route path="/" element={<DiscoveryPage />} />
          <Route path="/agents/:namespace/:name" element={<ListingPage />} />
          <Route path="/mine" element={<MyAgentsPage />} />
          <Route path="/publishing" element={<PublishingPage />} />
        </Routes>
      </Content>
    </Page>
  );
}
