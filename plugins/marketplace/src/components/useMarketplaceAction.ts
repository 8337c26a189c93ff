import { useState } from 'react';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';

/**
 * Runs one user action against the Marketplace API: marks the page busy,
 * posts a success alert (the message may be derived from the result) or the
 * backend's error, and calls `onDone` (usually the page's reload) on success.
 */
export function useMarketplaceAction(onDone: () => void) {
  const alertApi = useApi(alertApiRef);
  const [busy, setBusy] = useState(false);

  const act = async <T>(
    what: () => Promise<T>,
    message: string | ((result: T) => string),
  ): Promise<boolean> => {
    setBusy(true);
    try {
      const result = await what();
      alertApi.post({
        message: typeof message === 'string' ? message : message(result),
        severity: 'success',
        display: 'transient',
      });
      onDone();
      return true;
    } catch (e) {
      alertApi.post({
        message: String((e as Error).message),
        severity: 'error',
      });
      return false;
    } finally {
      setBusy(false);
    }
  };

  return { busy, act };
}
