export interface OrderItem {
  sku: string;
  qty: number;
  unit_price: number;
}

export interface OrderRequest {
  user_id: string;
  items: OrderItem[];
}

const MAX_ITEMS = 100;

/**
 * The largest order total in cents orders accepts: the cents stay an exact integer and the amount
 * survives JSON to payments unchanged. (Above payments' credit limit an order is still valid: it is
 * declined, 402, and ends REJECTED — a settled outcome.)
 */
export const MAX_TOTAL_CENTS = Number.MAX_SAFE_INTEGER;

/**
 * Checks a POST /orders body and names every bad field with what was expected, e.g.
 * `items[1].qty must be a positive integer, got -2`. Returns the errors, or the typed order.
 */
export function validateOrder(body: unknown): { ok: true; order: OrderRequest } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, errors: [`body must be a JSON object like {"user_id": "u-1", "items": [{"sku": "SKU-1", "qty": 1, "unit_price": 9.99}]}, got ${describe(body)}`] };
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (key !== 'user_id' && key !== 'items') errors.push(`${key} is not a known field (expected user_id, items)`);
  if (typeof b.user_id !== 'string' || b.user_id.trim() === '') errors.push(`user_id must be a non-empty string, got ${describe(b.user_id)}`);
  else if (b.user_id.length > 64) errors.push(`user_id must be at most 64 characters, got ${b.user_id.length}`);
  if (!Array.isArray(b.items)) errors.push(`items must be an array of {sku, qty, unit_price}, got ${describe(b.items)}`);
  else if (b.items.length === 0) errors.push('items must contain at least one item, got an empty array');
  else if (b.items.length > MAX_ITEMS) errors.push(`items must contain at most ${MAX_ITEMS} items, got ${b.items.length}`);
  else {
    b.items.forEach((raw: unknown, i: number) => {
      const at = `items[${i}]`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return void errors.push(`${at} must be an object {sku, qty, unit_price}, got ${describe(raw)}`);
      const item = raw as Record<string, unknown>;
      for (const key of Object.keys(item)) if (!['sku', 'qty', 'unit_price'].includes(key)) errors.push(`${at}.${key} is not a known field (expected sku, qty, unit_price)`);
      if (typeof item.sku !== 'string' || item.sku.trim() === '') errors.push(`${at}.sku must be a non-empty string, got ${describe(item.sku)}`);
      if (typeof item.qty !== 'number' || !Number.isInteger(item.qty) || item.qty < 1 || item.qty > 10000) errors.push(`${at}.qty must be an integer from 1 to 10000, got ${describe(item.qty)}`);
      if (typeof item.unit_price !== 'number' || !Number.isFinite(item.unit_price) || item.unit_price < 0) errors.push(`${at}.unit_price must be a number >= 0, got ${describe(item.unit_price)}`);
      else if (Math.round(item.unit_price * 100) !== item.unit_price * 100 && Math.abs(Math.round(item.unit_price * 100) - item.unit_price * 100) > 1e-6) errors.push(`${at}.unit_price must have at most 2 decimals, got ${item.unit_price}`);
    });
  }
  if (errors.length) return { ok: false, errors };
  // Payments charges only amounts > 0 (POST /payments: "amount must be a number > 0"): an order it
  // would refuse must be refused here, or it could never leave PENDING.
  const cents = totalCents(b.items as OrderItem[]);
  if (!(cents > 0)) return { ok: false, errors: [`the order total must be greater than 0 (payments charges only positive amounts), got ${cents / 100}`] };
  if (!Number.isSafeInteger(cents) || cents > MAX_TOTAL_CENTS) return { ok: false, errors: [`the order total must be at most ${MAX_TOTAL_CENTS / 100}, got ${cents / 100}`] };
  return { ok: true, order: { user_id: b.user_id as string, items: b.items as OrderItem[] } };
}

/** Order total in cents, so money never meets floating point rounding. */
export function totalCents(items: OrderItem[]): number {
  return items.reduce((sum, i) => sum + Math.round(i.unit_price * 100) * i.qty, 0);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (field missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
