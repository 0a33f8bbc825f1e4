"""Memory planning: what a model needs at a resolution, and the strategy that makes it fit.

``shapes`` holds the released configurations (no file is read), ``estimate`` turns a shape, a
resolution and a :class:`~engine.api.memory.MemoryStrategy` into bytes per component, and
``planner`` picks the first strategy that fits the device's free memory. Nothing here loads
weights or imports the store: the CLI and the model cache pass the shape in.
"""
