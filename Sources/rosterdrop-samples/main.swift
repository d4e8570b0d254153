// Placeholder until the generator CLI lands; replace this file.
print("rosterdrop-samples: not built yet")
