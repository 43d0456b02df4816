// One overlay through every check: render, API schemas, structural rules.
import { render } from "./render.mjs";
import { validateSchemas } from "./schema.mjs";
import { checkRender } from "./rules.mjs";

export async function validateObjects(objects, facts) {
  return [...(await validateSchemas(objects)), ...checkRender(objects, facts)];
}

export async function validateOverlay(dir, facts) {
  const objects = await render(dir);
  return { objects, errors: await validateObjects(objects, facts) };
}
