/** A valid order (19.98 in total) for load. */
export const ORDER = { user_id: 'u-lab', items: [{ sku: 'SKU-1', qty: 2, unit_price: 9.99 }] };
