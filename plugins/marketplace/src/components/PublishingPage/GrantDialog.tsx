import { useState } from 'react';
import {
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  MenuItem,
  TextField,
} from '@material-ui/core';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { AcquireRequest, PublishedListing } from '../../api';

/** `ada` -> `user:default/ada`, `group:ml-team` -> `group:default/ml-team`; undefined if not a user or group ref. */
export function toHolderRef(text: string): string | undefined {
  try {
    const ref = parseEntityRef(text.trim(), {
      defaultKind: 'user',
      defaultNamespace: 'default',
    });
    const kind = ref.kind.toLocaleLowerCase('en-US');
    if (kind !== 'user' && kind !== 'group') return undefined;
    return stringifyEntityRef({ ...ref, kind });
  } catch {
    return undefined;
  }
}

/** The end of the chosen day (UTC) as ISO 8601, the last moment the grant is valid. */
function endOfDay(date: string): string {
  return new Date(`${date}T23:59:59.999Z`).toISOString();
}

/** The owner grants one plan of a listing to a user or group, optionally until a date. */
export function GrantDialog(props: {
  listing: PublishedListing;
  busy: boolean;
  onClose: () => void;
  onGrant: (request: AcquireRequest) => void;
}) {
  const { listing, busy, onClose, onGrant } = props;
  const [holder, setHolder] = useState('');
  const [plan, setPlan] = useState(listing.plans[0]?.name ?? '');
  const [expires, setExpires] = useState('');
  const holderRef = holder.trim() ? toHolderRef(holder) : undefined;
  const holderError = holder.trim() !== '' && !holderRef;
  const today = new Date().toISOString().slice(0, 10);
  const expiresError = expires !== '' && expires < today;

  return (
    <Dialog
      open
      onClose={onClose}
      aria-labelledby="grant-dialog-title"
      fullWidth
      maxWidth="sm"
    >
      <DialogTitle id="grant-dialog-title">Grant {listing.title}</DialogTitle>
      <DialogContent>
        <TextField
          id="grant-holder"
          label="User or group"
          value={holder}
          fullWidth
          margin="normal"
          placeholder="user:default/ada or group:default/ml-team"
          error={holderError}
          helperText={
            holderError
              ? 'Enter a user or group ref, like user:default/ada or group:default/ml-team'
              : 'A name alone means a user'
          }
          onChange={e => setHolder(e.target.value)}
        />
        <TextField
          select
          id="grant-plan"
          label="Plan"
          value={plan}
          fullWidth
          margin="normal"
          SelectProps={{ SelectDisplayProps: { 'aria-label': 'Plan' } as any }}
          onChange={e => setPlan(String(e.target.value))}
        >
          {listing.plans.map(p => (
            <MenuItem key={p.name} value={p.name}>
              {p.title ?? p.name} ({p.priceText})
            </MenuItem>
          ))}
        </TextField>
        <TextField
          id="grant-expires"
          label="Expires (optional)"
          type="date"
          value={expires}
          fullWidth
          margin="normal"
          InputLabelProps={{ shrink: true }}
          inputProps={{ min: today }}
          error={expiresError}
          helperText={
            expiresError
              ? 'The expiry date is in the past'
              : 'Valid until the end of this day (UTC); empty for no expiry'
          }
          onChange={e => setExpires(e.target.value)}
        />
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button
          color="primary"
          variant="contained"
          disabled={busy || !holderRef || !plan || expiresError}
          onClick={() =>
            holderRef &&
            onGrant({
              agentRef: listing.agentRef,
              plan,
              holderRef,
              ...(expires ? { expiresAt: endOfDay(expires) } : {}),
            })
          }
        >
          Grant
        </Button>
      </DialogActions>
    </Dialog>
  );
}
