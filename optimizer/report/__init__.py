"""What people read: sentences, tables, exports, maps, the plan library, uploads."""
