// The base of every resource's query class: the hosting Durable Object's storage, for transactions, and its SQL
// handle, for the queries. A resource module extends it; the Durable Object hands each one its storage.
export abstract class Queries {
  protected readonly storage: DurableObjectStorage;
  protected readonly sql: SqlStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.sql = storage.sql;
  }
}
